/**
 * Typed errors of the network-definition layer. Every error carries a stable `code`, the JSON
 * path (or option) it concerns and a human-readable reason. Messages never contain key material:
 * callers format values that are not secrets only.
 */

/** One problem found in an input document: a JSON pointer and the reason. */
export interface ValidationIssue {
  /** JSON pointer into the checked document, e.g. `/resources/2/subnet`; `` for the root. */
  readonly path: string;
  readonly message: string;
}

export type NetdefErrorCode = 'ENETDEF' | 'ENONODE' | 'EALLOC' | 'EUNSEAL' | 'EKEY' | 'EREPROVISION' | 'EINVITE';

/** Base of all netdef errors: a code, the path it concerns and the reason. */
export abstract class NetdefError extends Error {
  abstract readonly code: NetdefErrorCode;
  readonly path: string;

  constructor(path: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.path = path;
  }
}

/** A document (definition or node record) failed validation; `issues` lists every problem. */
export class NetdefValidationError extends NetdefError {
  readonly code = 'ENETDEF';
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], what = 'network definition') {
    const first = issues[0];
    const summary = first ? `${first.path || '/'}: ${first.message}` : 'invalid';
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(first?.path ?? '', `invalid ${what}: ${summary}${more}`);
    this.issues = issues;
  }
}

/** A node id that is not a member of the network. */
export class UnknownNodeError extends NetdefError {
  readonly code = 'ENONODE';
  readonly nodeId: string;

  constructor(nodeId: string, network: string) {
    super('/resources', `node "${nodeId}" is not a member of network "${network}"`);
    this.nodeId = nodeId;
  }
}

/** Allocation ran out of something (free /24s, listen ports). */
export class AllocationError extends NetdefError {
  readonly code = 'EALLOC';
}

/** A sealed key could not be opened with the given identity, or opened to the wrong key. */
export class UnsealError extends NetdefError {
  readonly code = 'EUNSEAL';
}

/** A key given to the library is malformed (never echoes the key). */
export class KeyFormatError extends NetdefError {
  readonly code = 'EKEY';
  /** What is wrong, without naming the key (the UAPI names the line and key itself). */
  readonly reason: string;

  constructor(path: string, message: string, reason = message) {
    super(path, message);
    this.reason = reason;
  }
}

/** A reprovision request that cannot be carried out as asked. */
export class ReprovisionError extends NetdefError {
  readonly code = 'EREPROVISION';
}

/** An invitation or a redemption that is malformed, expired, already used or not authentic. */
export class InvitationError extends NetdefError {
  readonly code = 'EINVITE';
}
