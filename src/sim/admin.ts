// The simulated world's admin: one Ed25519 admin key (as `zmesh admin init` writes it, 0600, in
// the world's private directory) that signs every revision the world's tool writes, and that
// every node trusts from its `zmesh node init --trust`. Secure by default means a world without
// it would have every definition refused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_KEY_ENV, AdminKey, ready } from '../netdef/index.js';

export interface SimAdmin {
  /** The secret key file (0600): the tool finds it through ZMESH_ADMIN_KEY. */
  readonly keyFile: string;
  readonly publicKey: string;
  /** The environment under which the tool signs with this key. */
  readonly env: Readonly<Record<string, string>>;
}

export async function createSimAdmin(dir: string, name = 'admin'): Promise<SimAdmin> {
  await ready();
  const key = AdminKey.generate();
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(keyFile, `${key.revealBase64()}\n`, { mode: 0o600 });
  return { keyFile, publicKey: key.publicKey(), env: { [ADMIN_KEY_ENV]: keyFile } };
}
