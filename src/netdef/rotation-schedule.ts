/**
 * Scheduled key rotation (optional, #21): `rotateAfter` days in the definition, counted from each
 * NR's `keyCreatedAt`, which the tool stamps whenever a revision it writes gives a node a new
 * WireGuard key (add-node, rotate-key, reprovision --rotate-key: stampKeyDates). `zmesh net
 * rotate-due` rotates every NR whose key is older (rotateDue): the same rotation as rotate-key,
 * with its record for pinning. A key of unknown age (made before the stamp existed) is due.
 */
import { rotateNodeKey } from './allocate.js';
import type { KeySource } from './keys.js';
import { assertNetworkDefinition } from './parse.js';
import type { NetworkDefinition } from './schema.js';

const DAY_MS = 86_400_000;

/** `after` with `keyCreatedAt` = `now` on every NR whose key is new since `before` (or that is new). */
export function stampKeyDates(
  before: NetworkDefinition | undefined,
  after: NetworkDefinition,
  now: Date,
): NetworkDefinition {
  const keyOf = new Map((before?.resources ?? []).map((r) => [r.node, r.wgPublicKey]));
  const fresh = after.resources.filter((r) => keyOf.get(r.node) !== r.wgPublicKey);
  if (fresh.length === 0) return after;
  const at = now.toISOString();
  return assertNetworkDefinition({
    ...after,
    resources: after.resources.map((r) => (fresh.includes(r) ? { ...r, keyCreatedAt: at } : r)),
  });
}

export interface DueKey {
  readonly node: string;
  /** Whole days since the key was made; null when its age is unknown. */
  readonly ageDays: number | null;
}

/** The NRs whose key is older than `rotateAfter` days at `now` (none when the definition sets no rotateAfter). */
export function dueKeys(def: NetworkDefinition, now: Date): DueKey[] {
  if (def.rotateAfter === undefined) return [];
  const limit = def.rotateAfter * DAY_MS;
  return def.resources.flatMap((r): DueKey[] => {
    if (r.keyCreatedAt === undefined) return [{ node: r.node, ageDays: null }];
    const age = now.getTime() - Date.parse(r.keyCreatedAt);
    return age >= limit ? [{ node: r.node, ageDays: Math.floor(age / DAY_MS) }] : [];
  });
}

/** Every due NR rotated (rotate-key each, their keys stamped `now`); `def` itself when none is due. */
export function rotateDue(def: NetworkDefinition, now: Date, keys: KeySource): NetworkDefinition {
  let next = def;
  for (const { node } of dueKeys(def, now)) next = rotateNodeKey(next, node, keys);
  return stampKeyDates(def, next, now);
}

/** Sets (days) or clears (undefined) the rotation schedule: the next revision. */
export function setRotateAfter(def: NetworkDefinition, days: number | undefined): NetworkDefinition {
  const { rotateAfter: _old, ...rest } = def;
  return assertNetworkDefinition({
    ...rest,
    revision: def.revision + 1,
    ...(days === undefined ? {} : { rotateAfter: days }),
  });
}
