/**
 * A node's trust (netdef's TrustState): `<state dir>/trusted-admin-keys`, one Ed25519 public key
 * (base64) per line, plus `through N` once the node has followed a definition's trust log to
 * change #N (trust-log.ts: no change is applied twice). Written by `zmesh node init --trust` /
 * `zmesh node trust add|remove` (which keep `through`) and by networkd when a verified definition
 * carries trust changes it had not applied. networkd and the store agent read it on every
 * definition, so a change needs no restart. A missing file is an empty set: the node accepts
 * nothing (secure by default). The file is public data (public keys) but only root may change it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TrustState, isKey } from '../netdef/index.js';
import { writeFileAtomic } from '../common/atomic-file.js';

export const TRUSTED_KEYS_FILE = 'trusted-admin-keys';
const THROUGH = /^through (\d{1,7})$/;

export function trustedKeysPath(stateDir: string): string {
  return join(stateDir, TRUSTED_KEYS_FILE);
}

/** The node's trust; no keys when the file is missing. A malformed line is an error naming file and line. */
export async function readTrustState(stateDir: string): Promise<TrustState> {
  const path = trustedKeysPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [], through: null };
    throw new Error(`${path}: unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const keys: string[] = [];
  let through: number | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const followed = THROUGH.exec(line);
    if (followed) through = Number(followed[1]);
    else if (!isKey(line))
      throw new Error(`${path}:${index + 1}: not an admin public key (standard base64 of 32 bytes) nor "through N"`);
    else if (!keys.includes(line)) keys.push(line);
  });
  return { keys, through };
}

/** The trusted keys alone (see readTrustState). */
export async function readTrustedKeys(stateDir: string): Promise<string[]> {
  return [...(await readTrustState(stateDir)).keys];
}

export async function writeTrustState(stateDir: string, state: TrustState): Promise<void> {
  const text =
    '# admin keys this node trusts (zmesh node trust add|remove)\n' +
    state.keys.map((k) => `${k}\n`).join('') +
    (state.through === null
      ? ''
      : `# the definitions' trust log is applied up to this change\nthrough ${state.through}\n`);
  // Public keys, but the list decides what this node obeys: root alone reads and writes it, as
  // every file under a state dir but the public node record.
  await writeFileAtomic(trustedKeysPath(stateDir), text, { mode: 0o600 });
}

/** Sets the trusted keys, keeping how far the trust log was followed. */
export async function writeTrustedKeys(stateDir: string, keys: readonly string[]): Promise<void> {
  let through: number | null = null;
  try {
    through = (await readTrustState(stateDir)).through;
  } catch {
    through = null; // an unreadable file is replaced whole
  }
  await writeTrustState(stateDir, { keys, through });
}
