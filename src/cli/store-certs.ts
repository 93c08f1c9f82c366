/**
 * `zmesh store ca | cert | access`: the store's CA, its certificates, and etcd's users and roles
 * (src/store/certificates.ts, src/store/access.ts). A URL with TLS:
 * etcd://H:P,…?ca=D/ca.crt&cert=D/admin.crt&key=D/admin.key
 */

import { EtcdStore, type CertificateKind, createCa, grantNode, issueCertificate, setupAccess } from '../store/index.js';
import { CliError, type Command, type Invocation } from './command.js';
import { STORE_OPTION, openStoreOption, storeCliError, storeUrlOf } from './store-target.js';

const DIR = {
  type: 'string',
  value: 'D',
  required: true,
  description: 'the CA directory (created 0700; keys 0600)',
} as const;
const NODE_ID = /^[a-z0-9-]{1,32}$/;

async function caCommand({ args, io }: Invocation): Promise<void> {
  const files = await createCa(args.strings['dir'] as string);
  io.stdout(`CA: ${files.certFile} (key ${files.keyFile}, keep it offline)\n`);
}

function kindOf(args: Invocation['args']): CertificateKind {
  const node = args.strings['node'];
  const member = args.strings['member'];
  const chosen = [
    node !== undefined,
    member !== undefined,
    args.flags['admin'] === true,
    args.flags['root'] === true,
  ].filter(Boolean).length;
  if (chosen !== 1) throw CliError.invalid('--node', 'give exactly one of --node ID, --admin, --root, --member NAME');
  if (node !== undefined) {
    if (!NODE_ID.test(node)) throw CliError.invalid('--node', `malformed node id "${node}"`);
    return { kind: 'node', id: node };
  }
  if (member !== undefined) {
    const hosts = args.lists['host'] ?? [];
    if (!/^[a-z0-9-]{1,32}$/.test(member)) throw CliError.invalid('--member', `malformed member name "${member}"`);
    if (hosts.length === 0)
      throw CliError.invalid(
        '--host',
        'a member certificate names the addresses clients and peers dial (--host, repeatable)',
      );
    return { kind: 'member', name: member, hosts };
  }
  return args.flags['admin'] === true ? { kind: 'admin' } : { kind: 'root' };
}

async function certCommand({ args, io }: Invocation): Promise<void> {
  const files = await issueCertificate(args.strings['dir'] as string, kindOf(args));
  io.stdout(`certificate ${files.certFile}, key ${files.keyFile}\n`);
}

async function accessCommand(invocation: Invocation): Promise<void> {
  const url = storeUrlOf(invocation);
  if (url === undefined) throw CliError.invalid('--store', 'required: the cluster, with the root certificate');
  const nodes = invocation.args.lists['node'] ?? [];
  for (const id of nodes) if (!NODE_ID.test(id)) throw CliError.invalid('--node', `malformed node id "${id}"`);
  const store = openStoreOption(url);
  if (!(store instanceof EtcdStore))
    throw CliError.invalid('--store', "access control is etcd's: give an etcd:// store");
  try {
    if (invocation.args.flags['add'] === true)
      for (const id of nodes) await store.call(`grant node "${id}"`, () => grantNode(store.client, id));
    else await store.call('set up access', () => setupAccess(store.client, nodes));
  } catch (error) {
    throw storeCliError(error);
  } finally {
    await store.close();
  }
  invocation.io.stdout(
    `access ${invocation.args.flags['add'] === true ? 'granted' : 'set up and authentication enabled'}: admin, ${nodes.length} node(s)\n`,
  );
}

export const storeCertificateCommands: Readonly<Record<string, Command>> = {
  ca: {
    summary: "create the store's CA (D/ca.crt, D/ca.key)",
    options: { dir: DIR },
    run: caCommand,
  },
  cert: {
    summary: 'issue a certificate from the CA in D: a node (CN zmesh-node-ID), the admin, root, or an etcd member',
    options: {
      dir: DIR,
      node: {
        type: 'string',
        value: 'ID',
        description: "a node's agent: reads networks and node records, writes only nodes/ID/",
      },
      admin: { type: 'boolean', description: 'the tool: reads and writes everything under /zmesh/v1/' },
      root: { type: 'boolean', description: "etcd's root user: for `zmesh store access` only" },
      member: { type: 'string', value: 'NAME', description: 'an etcd member (server and peer certificate)' },
      host: {
        type: 'string',
        value: 'ADDR',
        multiple: true,
        description: "with --member: an address or name in the certificate's SANs",
      },
    },
    run: certCommand,
  },
  access: {
    summary:
      'create the etcd users and roles (admin, one per node) and enable authentication; needs the root certificate',
    options: {
      store: STORE_OPTION,
      node: { type: 'string', value: 'ID', multiple: true, description: 'a node to grant its role (repeatable)' },
      add: { type: 'boolean', description: 'only grant the given nodes (authentication already on)' },
    },
    run: accessCommand,
  },
};
