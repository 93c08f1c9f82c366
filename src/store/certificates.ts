/**
 * A small CA for the store and the certificates etcd and its clients present (openssl, EC P-256):
 * the CA, one certificate per member (server and peer, SANs = its addresses), and client
 * certificates whose CN is the etcd user they act as — `zmesh-node-<id>` for a node's agent,
 * `zmesh-admin` for the tool, `root` for setting up access. Keys are written 0600 in a 0700 dir.
 */

import { execFile } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';
const DAYS = '3650';

export const ADMIN_USER = 'zmesh-admin';
export const ROOT_USER = 'root';
export const nodeUser = (id: string): string => `zmesh-node-${id}`;

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export type CertificateKind =
  | { readonly kind: 'node'; readonly id: string }
  | { readonly kind: 'admin' }
  | { readonly kind: 'root' }
  | { readonly kind: 'member'; readonly name: string; readonly hosts: readonly string[] };

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run(OPENSSL, args, { timeout: 30_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '')
      .trim()
      .split('\n')
      .slice(-2)
      .join(' ');
    throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

/** `openssl req` arguments that make a new unencrypted EC P-256 key and write it to `keyFile`. */
function newKeyArgs(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile];
}

export async function createCa(dir: string): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.crt');
  await openssl([
    'req',
    '-x509',
    ...newKeyArgs(keyFile),
    '-out',
    certFile,
    '-days',
    DAYS,
    '-subj',
    '/CN=zmesh-store-ca',
  ]);
  await chmod(keyFile, 0o600);
  return { certFile, keyFile };
}

function subjectOf(kind: CertificateKind): { cn: string; file: string } {
  switch (kind.kind) {
    case 'node':
      return { cn: nodeUser(kind.id), file: `node-${kind.id}` };
    case 'admin':
      return { cn: ADMIN_USER, file: 'admin' };
    case 'root':
      return { cn: ROOT_USER, file: 'root' };
    case 'member':
      return { cn: `zmesh-etcd-${kind.name}`, file: `member-${kind.name}` };
  }
}

/** Issues a certificate signed by the CA in `dir` (ca.crt, ca.key). */
export async function issueCertificate(dir: string, kind: CertificateKind): Promise<CertificateFiles> {
  const { cn, file } = subjectOf(kind);
  const keyFile = join(dir, `${file}.key`);
  const certFile = join(dir, `${file}.crt`);
  const csr = join(dir, `${file}.csr`);
  const ext = join(dir, `${file}.ext`);
  const san = kind.kind === 'member' ? kind.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)) : [];
  const lines = [
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    `extendedKeyUsage=${kind.kind === 'member' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
    ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
  ];
  await writeFile(ext, `${lines.join('\n')}\n`, { mode: 0o600 });
  try {
    await openssl(['req', ...newKeyArgs(keyFile), '-out', csr, '-subj', `/CN=${cn}`]);
    await chmod(keyFile, 0o600);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      join(dir, 'ca.crt'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-out',
      certFile,
      '-days',
      DAYS,
      '-extfile',
      ext,
    ]);
  } finally {
    await rm(csr, { force: true });
    await rm(ext, { force: true });
  }
  return { certFile, keyFile };
}
