/**
 * A node's trusted admin keys: `<state dir>/trusted-admin-keys`, one Ed25519 public key (base64)
 * per line, written by `zmesh node init --trust` / `zmesh node trust add|remove` and by networkd
 * when a verified definition carries a trust update. networkd and the store agent read it on every
 * definition, so a change needs no restart. A missing file is an empty set: the node accepts
 * nothing (secure by default). The file is public data (public keys) but only root may change it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isKey } from '../netdef/index.js';
import { writeFileAtomic } from '../common/atomic-file.js';

export const TRUSTED_KEYS_FILE = 'trusted-admin-keys';

export function trustedKeysPath(stateDir: string): string {
  return join(stateDir, TRUSTED_KEYS_FILE);
}

/** The trusted keys; [] when the file is missing. A malformed line is an error naming file and line. */
export async function readTrustedKeys(stateDir: string): Promise<string[]> {
  const path = trustedKeysPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`${path}: unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const keys: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!isKey(line)) throw new Error(`${path}:${index + 1}: not an admin public key (standard base64 of 32 bytes)`);
    if (!keys.includes(line)) keys.push(line);
  });
  return keys;
}

export async function writeTrustedKeys(stateDir: string, keys: readonly string[]): Promise<void> {
  const text = `# admin keys this node trusts (zmesh node trust add|remove)\n${keys.map((k) => `${k}\n`).join('')}`;
  // Public keys, but the list decides what this node obeys: root alone reads and writes it, as
  // every file under a state dir but the public node record.
  await writeFileAtomic(trustedKeysPath(stateDir), text, { mode: 0o600 });
}
