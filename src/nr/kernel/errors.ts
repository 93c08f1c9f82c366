/**
 * The one error type of the kernel access layer. Every failure of a kernel operation (rtnetlink,
 * namespaces, sysctls, nftables) and every refused argument becomes a KernelError carrying the
 * errno name (or EINVAL for bad input, ENFT for an nft(8) failure), the operation, the object it
 * was applied to and the namespace. Nothing here ever handles a secret, so messages may quote
 * their inputs.
 */

export interface KernelErrorContext {
  /** What was being done, e.g. "create veth", "add address", "replace nft table". */
  readonly operation: string;
  /** What it was done to, e.g. "'p-abc' <-> 'public'", "10.0.0.1/24 on 'br0'". */
  readonly object: string;
  /** The namespace path, or null for the caller's own. */
  readonly netns: string | null;
  /** For refused arguments: the field that was wrong. */
  readonly field?: string;
  /** Extra text from the tool that failed (nft's stderr), trimmed. */
  readonly detail?: string;
}

export class KernelError extends Error {
  /** errno name ("EEXIST", "ENODEV", ...), "EINVAL" for refused input, "ENFT" for nft(8) failures. */
  readonly code: string;
  readonly operation: string;
  readonly object: string;
  readonly netns: string | null;
  readonly field: string | undefined;
  readonly detail: string | undefined;

  constructor(code: string, context: KernelErrorContext, reason?: string) {
    const where = context.netns === null ? 'the current network namespace' : `network namespace ${context.netns}`;
    const why = reason ?? code;
    const detail = context.detail ? `\n${context.detail}` : '';
    super(`${context.operation} ${context.object} in ${where}: ${why}${detail}`);
    this.name = 'KernelError';
    this.code = code;
    this.operation = context.operation;
    this.object = context.object;
    this.netns = context.netns;
    this.field = context.field;
    this.detail = context.detail;
  }
}

/** A refused argument: code EINVAL, naming the field and the reason; nothing was changed. */
export function invalidArgument(
  context: Omit<KernelErrorContext, 'field'>,
  field: string,
  reason: string,
): KernelError {
  return new KernelError('EINVAL', { ...context, field }, `${field} ${reason}`);
}

/**
 * The errno name of an error thrown by the addon or the netlink package. The netlink package
 * reports kernel NACKs only as the text "Request rejected: ECODE"; raw socket errors carry `code`.
 */
export function errnoName(e: unknown): string {
  if (e instanceof KernelError) return e.code;
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err?.message === 'string') {
    const m = /Request rejected: (E[A-Z0-9]+|-?\d+)/.exec(err.message);
    if (m) return m[1] as string;
  }
  if (typeof err?.code === 'string' && /^E[A-Z0-9]+$/.test(err.code)) return err.code;
  return 'EUNKNOWN';
}

/** Wraps any failure of an operation in a KernelError (KernelErrors pass through unchanged). */
export function kernelErrorFrom(e: unknown, context: KernelErrorContext): KernelError {
  if (e instanceof KernelError) return e;
  const code = errnoName(e);
  const message = (e as Error)?.message;
  // The addon's messages already name the operation and the path; keep only the reason.
  const reason = code === 'EUNKNOWN' && typeof message === 'string' ? message : describeErrno(code);
  return new KernelError(code, context, reason);
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EEXIST: 'already exists (EEXIST)',
  ENOENT: 'does not exist (ENOENT)',
  ENODEV: 'no such link (ENODEV)',
  ESRCH: 'no such route (ESRCH)',
  EADDRNOTAVAIL: 'no such address (EADDRNOTAVAIL)',
  EINVAL: 'invalid argument (EINVAL)',
  EPERM: 'operation not permitted (EPERM)',
  EBUSY: 'busy (EBUSY)',
  ENETUNREACH: 'gateway unreachable (ENETUNREACH)',
  EOPNOTSUPP: 'not supported by the kernel (EOPNOTSUPP)',
};

function describeErrno(code: string): string {
  return ERRNO_TEXT[code] ?? code;
}
