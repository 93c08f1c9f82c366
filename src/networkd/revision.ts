/**
 * The revision rule of PUT /v1/networks/{name}: a definition older than the stored one is
 * refused, an equal revision is a no-op only when the content is identical (a retried request),
 * and an equal revision with other content is a conflict (two writers bumped from the same base).
 * Content is compared canonically (object keys sorted), so key order in the JSON does not matter.
 */
import { type NetworkDefinition, canonicalJson } from '../netdef/index.js';

export { canonicalJson };

export type RevisionDecision =
  | { readonly kind: 'apply' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'conflict'; readonly reason: string };

export function decideRevision(stored: NetworkDefinition | undefined, incoming: NetworkDefinition): RevisionDecision {
  if (stored === undefined || incoming.revision > stored.revision) return { kind: 'apply' };
  if (incoming.revision < stored.revision) {
    return {
      kind: 'conflict',
      reason: `revision ${incoming.revision} is older than the applied revision ${stored.revision}`,
    };
  }
  if (canonicalJson(stored) === canonicalJson(incoming)) return { kind: 'unchanged' };
  return {
    kind: 'conflict',
    reason: `revision ${incoming.revision} is already applied with different content (bump the revision)`,
  };
}
