/**
 * The node's identity as networkd needs it: the id (node.json) and the X25519 identity key
 * (identity.key, written 0600 by `zmesh node init`) that opens the NRs' sealed WireGuard keys.
 * Errors name the file and the reason, never the key.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PrivateKey, assertNodeRecord, ready } from '../netdef/index.js';
import { NetworkdError } from './errors.js';

export const IDENTITY_KEY_FILE = 'identity.key';
export const NODE_RECORD_FILE = 'node.json';

export interface NodeIdentity {
  readonly nodeId: string;
  readonly identity: PrivateKey;
}

function unusable(file: string, reason: string): NetworkdError {
  return new NetworkdError('EINVAL', `--state-dir: ${file}: ${reason}`, { field: '--state-dir' });
}

export async function loadNodeIdentity(stateDir: string): Promise<NodeIdentity> {
  await ready();
  const keyFile = join(stateDir, IDENTITY_KEY_FILE);
  const recordFile = join(stateDir, NODE_RECORD_FILE);
  let keyText: string;
  let recordText: string;
  try {
    if ((statSync(keyFile).mode & 0o077) !== 0)
      throw unusable(keyFile, 'must not be readable by group or others (chmod 600)');
    keyText = readFileSync(keyFile, 'utf8');
    recordText = readFileSync(recordFile, 'utf8');
  } catch (error) {
    if (error instanceof NetworkdError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw unusable(
      code === 'ENOENT' ? `${(error as NodeJS.ErrnoException).path ?? stateDir}` : stateDir,
      code === 'ENOENT' ? 'missing (run `zmesh node init --state-dir D` first)' : `unreadable (${code ?? 'error'})`,
    );
  }
  let identity: PrivateKey;
  try {
    identity = PrivateKey.fromBase64(keyText, 'identity key');
  } catch {
    throw unusable(keyFile, 'not a base64 X25519 private key');
  }
  let record;
  try {
    record = assertNodeRecord(JSON.parse(recordText));
  } catch (error) {
    throw unusable(recordFile, error instanceof SyntaxError ? 'not JSON' : (error as Error).message);
  }
  if (identity.publicKey() !== record.identityKey)
    throw unusable(recordFile, `identityKey does not match ${IDENTITY_KEY_FILE}`);
  return { nodeId: record.id, identity };
}
