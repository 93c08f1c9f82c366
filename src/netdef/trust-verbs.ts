/**
 * The verb of the trust log (trust-log.ts): one more change, appended and signed by the admin
 * key the tool signs with — which must be trusted once the earlier changes are applied. Returns
 * the next revision, validated.
 */
import { NetdefValidationError } from './errors.js';
import { assertNetworkDefinition } from './parse.js';
import type { NetworkDefinition } from './schema.js';
import type { AdminKey } from './signature.js';
import { signTrustChange } from './trust-log.js';

export function addTrustChange(
  def: NetworkDefinition,
  update: { readonly add: readonly string[]; readonly remove: readonly string[] },
  key: AdminKey,
): NetworkDefinition {
  if (update.add.length === 0 && update.remove.length === 0)
    throw new NetdefValidationError([{ path: '/trust', message: 'a trust change adds or removes at least one key' }]);
  const log = def.trust ?? [];
  return assertNetworkDefinition({
    ...def,
    revision: def.revision + 1,
    trust: [...log, signTrustChange(log, update, key)],
  });
}
