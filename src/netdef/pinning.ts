/**
 * Pinning (DESIGN.md "Trust"; innernet's clients do the same): a node remembers, per network,
 * every peer NR's WireGuard key and subnet (its WireGuard address follows from the subnet) as of
 * the revision it applied. A newer revision may change them for a node only when it carries an
 * identity change record for that node, naming the field, made after the applied revision
 * (`net rotate-key`, `net reprovision`). So even a validly signed definition cannot swap a
 * peer's key or move its addresses silently; identity changes are always explicit.
 */
import type { ValidationIssue } from './errors.js';
import { type IdentityChange, PINNED_FIELDS, type PinnedField } from './schema.js';

interface PinnedResource {
  readonly node: string;
  readonly wgPublicKey: string;
  readonly subnet: string;
}

interface PinnedDefinition {
  readonly revision: number;
  readonly resources: readonly PinnedResource[];
  readonly identityChanges?:
    | readonly {
        readonly node: string;
        readonly revision: number;
        readonly kind: IdentityChange['kind'];
        readonly fields: readonly PinnedField[];
      }[]
    | undefined;
}

/** Every pinned field `next` changes for a node of `applied` without a record allowing it. */
export function pinningIssues(applied: PinnedDefinition, next: PinnedDefinition): ValidationIssue[] {
  const before = new Map(applied.resources.map((r) => [r.node, r]));
  const issues: ValidationIssue[] = [];
  next.resources.forEach((resource, index) => {
    const old = before.get(resource.node);
    if (old === undefined) return;
    const record = next.identityChanges?.find((c) => c.node === resource.node);
    for (const field of PINNED_FIELDS) {
      if (old[field] === resource[field]) continue;
      if (record !== undefined && record.revision > applied.revision && record.fields.includes(field)) continue;
      issues.push({
        path: `/resources/${index}/${field}`,
        message: pinnedMessage(resource.node, field, record, applied.revision),
      });
    }
  });
  return issues;
}

type ChangeRecord = NonNullable<PinnedDefinition['identityChanges']>[number];

function pinnedMessage(
  node: string,
  field: PinnedField,
  record: ChangeRecord | undefined,
  appliedRevision: number,
): string {
  const what = field === 'wgPublicKey' ? 'WireGuard key' : 'subnet (and WireGuard address)';
  const why =
    record === undefined
      ? 'without a rotation or reprovision record for it'
      : record.revision <= appliedRevision
        ? `with a record of revision ${record.revision}, not newer than the applied revision ${appliedRevision}`
        : `with a ${record.kind} record that does not name ${field}`;
  return `pinned: node "${node}"'s ${what} changed ${why} (zmesh net rotate-key / net reprovision write one)`;
}

/** `changes` with `change` as the node's latest record (one record per node is kept). */
export function withIdentityChange(
  changes: readonly ChangeRecord[] | undefined,
  change: IdentityChange,
): IdentityChange[] {
  return [
    ...(changes ?? []).filter((c) => c.node !== change.node).map((c) => ({ ...c, fields: [...c.fields] })),
    change,
  ];
}
