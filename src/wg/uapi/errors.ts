/**
 * Typed errors of the WireGuard configuration model and its UAPI.
 *
 * Owns the mapping from what went wrong to the negative errno the cross-platform userspace API
 * answers with (`errno=-22` and so on), so every layer — parser, config model, device, server —
 * throws one error type and the server never has to guess a number. Messages name the line and
 * field and the reason; they never contain a key's value (private and preshared keys are
 * secrets, and echoing any 64-hex value invites pasting the wrong one into a log).
 */
import { constants } from 'node:os';
import { CodedError } from '../../common/coded-error.js';

/** The errno names the protocol uses; each maps to Linux's number, sent negated on the wire. */
export type UapiErrorCode = 'EINVAL' | 'EPROTO' | 'EIO' | 'EADDRINUSE' | 'EEXIST' | 'ENOENT' | 'ETIMEDOUT';

export interface UapiErrorContext {
  /** 1-based line number in the request, counting the `set=1` / `get=1` line as line 1. */
  readonly line?: number;
  /** The protocol key of the offending line (`listen_port`, `allowed_ip`, ...) or a field name. */
  readonly key?: string;
  /** Public, non-secret context such as a socket path. */
  readonly path?: string;
}

export class UapiError extends CodedError<UapiErrorCode, UapiErrorContext> {
  override readonly name = 'UapiError';

  constructor(code: UapiErrorCode, reason: string, context: UapiErrorContext = {}, options?: { cause?: unknown }) {
    super(code, describe(reason, context), context, options);
  }

  /** The value for the `errno=` line: the Linux errno, negated, as wireguard-go and the kernel report it. */
  get errno(): number {
    return -errnoNumber(this.code);
  }
}

export function errnoNumber(code: UapiErrorCode): number {
  const n = constants.errno[code];
  if (typeof n !== 'number') throw new Error(`no errno number for ${code}`);
  return n;
}

/** The code for a negative errno received from a server (unknown numbers map to EIO). */
export function codeOfErrno(errno: number): UapiErrorCode {
  const codes: UapiErrorCode[] = ['EINVAL', 'EPROTO', 'EIO', 'EADDRINUSE', 'EEXIST', 'ENOENT', 'ETIMEDOUT'];
  return codes.find((c) => errnoNumber(c) === -errno) ?? 'EIO';
}

function describe(reason: string, context: UapiErrorContext): string {
  const where = [context.line !== undefined ? `line ${context.line}` : '', context.key ?? '']
    .filter(Boolean)
    .join(': ');
  return where ? `${where}: ${reason}` : reason;
}

export const invalid = (reason: string, context: UapiErrorContext = {}): UapiError =>
  new UapiError('EINVAL', reason, context);
