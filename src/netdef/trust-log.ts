/**
 * The trust log (README "Trust"): how the admin keys a node trusts change without touching the
 * node, also when it skips revisions. Each change is numbered (1, 2, 3… without gaps) and signed
 * by a key trusted once the changes before it are applied; a definition carries every change
 * still needed, oldest first, so the latest revision alone brings a node up to date: a node that
 * never saw the revision introducing change #3 applies #3 from whichever later one it sees.
 *
 * A node keeps, besides its keys, the number of the last change it went past (`through`), so no
 * change is applied twice — an old change signed by a key that is trusted again later is never
 * replayed. A change signed by a key the node does not trust at that point is passed over (it was
 * not meant for this node's chain, e.g. from before the node was set up), never obeyed. A log
 * that starts after `through + 1` lacks changes the node needs: refused, naming them. A node that
 * has followed no log yet (`through` null: its keys came from `node init`) starts where the log does.
 *
 * A definition is accepted when its signer is trusted before its log's changes are applied (the
 * revision that retires its own signer's key) or after (the first revision the new key signs).
 *
 * What a change signs: `zmesh-trust-change-v1\n` + the canonical JSON of { seq, add, remove }.
 */
import { canonicalJson } from './canonical.js';
import { type AdminKey, type Signable, keyLabel, signBytes, signatureMatches, verifyDefinition } from './signature.js';
import type { NetworkDefinition, TrustChange } from './schema.js';

/** A change as a validated definition holds it (read-only). */
type Change = NonNullable<NetworkDefinition['trust']>[number];

const DOMAIN = 'zmesh-trust-change-v1\n';

/** What a node trusts: its admin keys, and the last trust change it went past (null: none yet). */
export interface TrustState {
  readonly keys: readonly string[];
  readonly through: number | null;
}

export type TrustLogResult =
  | { readonly ok: true; readonly state: TrustState; readonly applied: readonly number[] }
  | { readonly ok: false; readonly reason: string };

function changeBytes(change: Pick<Change, 'seq' | 'add' | 'remove'>): Uint8Array {
  return new TextEncoder().encode(DOMAIN + canonicalJson({ seq: change.seq, add: change.add, remove: change.remove }));
}

/** The next change of `log`, signed by `key` (which must be trusted once the log's changes are applied). */
export function signTrustChange(
  log: readonly Change[],
  update: { readonly add: readonly string[]; readonly remove: readonly string[] },
  key: AdminKey,
): TrustChange {
  const seq = (log.at(-1)?.seq ?? 0) + 1;
  const body = { seq, add: [...update.add], remove: [...update.remove] };
  return { ...body, signature: signBytes(changeBytes(body), key) };
}

/** The keys after one change: removals first, then additions in order (a key both removed and added is removed). */
function applyChange(keys: readonly string[], change: Change): string[] {
  const next = keys.filter((k) => !change.remove.includes(k));
  for (const key of change.add) if (!next.includes(key) && !change.remove.includes(key)) next.push(key);
  return next;
}

/** Where `log` is malformed (changes not numbered consecutively), or null. */
export function trustLogIssue(log: readonly Change[]): string | null {
  for (let i = 1; i < log.length; i++) {
    if (log[i]!.seq !== log[i - 1]!.seq + 1)
      return `change #${log[i]!.seq} follows #${log[i - 1]!.seq}: a trust log is numbered without gaps`;
  }
  return null;
}

/** `state` after the changes of `log` it has not gone past yet; refused with the reason when it cannot follow. */
export function followTrustLog(state: TrustState, log: readonly Change[] | undefined): TrustLogResult {
  if (log === undefined || log.length === 0) return { ok: true, state, applied: [] };
  const malformed = trustLogIssue(log);
  if (malformed !== null) return { ok: false, reason: `trust log: ${malformed}` };
  const first = log[0]!.seq;
  let through = state.through ?? first - 1;
  if (first > through + 1) {
    const missing = first - 1 === through + 1 ? `#${through + 1}` : `#${through + 1}–#${first - 1}`;
    return {
      ok: false,
      reason:
        `this node followed the trust log to change #${through}, but the definition's log starts at #${first}: ` +
        `it lacks trust change ${missing} (publish a revision whose trust log still holds it, or set this ` +
        "node's keys by hand: zmesh node trust add|remove)",
    };
  }
  let keys = [...state.keys];
  const applied: number[] = [];
  for (const change of log) {
    if (change.seq <= through) continue;
    through = change.seq;
    if (!keys.includes(change.signature.key)) continue; // not this node's chain at this point: never obeyed
    if (!signatureMatches(changeBytes(change), change.signature)) {
      return {
        ok: false,
        reason: `trust change #${change.seq}: the signature by admin key ${keyLabel(change.signature.key)} does not match it`,
      };
    }
    keys = applyChange(keys, change);
    applied.push(change.seq);
  }
  return { ok: true, state: { keys, through }, applied };
}

export type TrustedDefinitionCheck =
  | { readonly ok: true; readonly signer: string; readonly state: TrustState; readonly applied: readonly number[] }
  | { readonly ok: false; readonly field: '/trust' | '/signature'; readonly reason: string };

/** Whether a node trusting `state` accepts `def`, and its trust once it does (see the top comment). */
export function checkTrustedDefinition(
  state: TrustState,
  def: Signable & { readonly trust?: readonly Change[] | undefined },
): TrustedDefinitionCheck {
  const followed = followTrustLog(state, def.trust);
  if (!followed.ok) return { ok: false, field: '/trust', reason: followed.reason };
  const keys = [...state.keys, ...followed.state.keys.filter((k) => !state.keys.includes(k))];
  const check = verifyDefinition(def, keys);
  if (!check.ok) return { ok: false, field: '/signature', reason: check.reason };
  return { ok: true, signer: check.signer, state: followed.state, applied: followed.applied };
}
