/**
 * Opening an NR's sealed WireGuard private key with its node's identity key, with the checks
 * that make a wrong key or a tampered definition a clear error instead of a silent mismatch.
 */

import { UnsealError } from './errors.js';
import { type PrivateKey, unsealKey } from './keys.js';
import type { Resource } from './schema.js';

/** The NR's WireGuard private key, proven to match its wgPublicKey. */
export function openResourceKey(resource: Resource, identity: PrivateKey): PrivateKey {
  if (identity.publicKey() !== resource.identityKey) {
    throw new UnsealError(
      '/identityKey',
      `the given identity key is not node "${resource.node}"'s identity (its public key differs from identityKey)`,
    );
  }
  let key: PrivateKey;
  try {
    key = unsealKey(resource.wgPrivateKeySealed, identity);
  } catch (error) {
    if (error instanceof UnsealError) {
      throw new UnsealError(
        '/wgPrivateKeySealed',
        `node "${resource.node}"'s identity key does not open its sealed WireGuard key` +
          (/ \(.*\)$/.exec(error.message)?.[0] ?? ''),
      );
    }
    throw error;
  }
  if (key.publicKey() !== resource.wgPublicKey) {
    throw new UnsealError(
      '/wgPrivateKeySealed',
      `node "${resource.node}"'s sealed WireGuard key does not match its wgPublicKey`,
    );
  }
  return key;
}
