/**
 * The edge where JSON becomes a trusted NetworkDefinition or NodeRecord: structural check, then
 * semantic validation, every problem reported with its JSON path. Nothing else makes these types.
 * The returned value is the input object itself (not a copy); treat it as immutable.
 */

import { NetdefValidationError, type ValidationIssue } from './errors.js';
import { type NetworkDefinition, NetworkDefinitionSchema, type NodeRecord, NodeRecordSchema } from './schema.js';
import { StructuralCheck } from './structural.js';
import { semanticIssuesOfDefinition, semanticIssuesOfNodeRecord } from './validate.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: ValidationIssue[] };

let definitionCheck: StructuralCheck<typeof NetworkDefinitionSchema> | undefined;
let recordCheck: StructuralCheck<typeof NodeRecordSchema> | undefined;

/** Parses a network definition; semantic rules run only on a structurally valid document. */
export function parseNetworkDefinition(input: unknown): ParseResult<NetworkDefinition> {
  definitionCheck ??= new StructuralCheck(NetworkDefinitionSchema);
  if (!definitionCheck.check(input)) return { ok: false, errors: definitionCheck.issues(input) };
  const issues = semanticIssuesOfDefinition(input);
  return issues.length > 0 ? { ok: false, errors: issues } : { ok: true, value: input as unknown as NetworkDefinition };
}

/** Like parseNetworkDefinition, but throws NetdefValidationError (code ENETDEF) with every issue. */
export function assertNetworkDefinition(input: unknown): NetworkDefinition {
  const result = parseNetworkDefinition(input);
  if (!result.ok) throw new NetdefValidationError(result.errors);
  return result.value;
}

export function parseNodeRecord(input: unknown): ParseResult<NodeRecord> {
  recordCheck ??= new StructuralCheck(NodeRecordSchema);
  if (!recordCheck.check(input)) return { ok: false, errors: recordCheck.issues(input) };
  const issues = semanticIssuesOfNodeRecord(input);
  return issues.length > 0 ? { ok: false, errors: issues } : { ok: true, value: input as unknown as NodeRecord };
}

export function assertNodeRecord(input: unknown): NodeRecord {
  const result = parseNodeRecord(input);
  if (!result.ok) throw new NetdefValidationError(result.errors, 'node record');
  return result.value;
}
