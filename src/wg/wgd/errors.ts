/**
 * Typed errors of `zmesh wgd`, its control protocol and its client.
 *
 * One type for every layer: the request parser (EINVAL naming the field), the registry
 * (EEXIST, ENOENT, EADDRINUSE, EIO), and the client (ETIMEDOUT, EPROTO, ECONNREFUSED for a daemon
 * that is not running). The code travels over the control socket unchanged, so the client throws
 * the same code the daemon decided. Messages name the field and the reason; no key material ever
 * reaches wgd's control protocol (keys go over the UAPI sockets), so none can leak into one.
 */
import { CodedError } from '../../common/coded-error.js';

export type WgdErrorCode =
  | 'EINVAL' // a request that is not well-formed (field named in the message)
  | 'EEXIST' // a device or link of that name exists with other parameters
  | 'ENOENT' // the namespace (or the control socket) does not exist
  | 'EADDRINUSE' // a device's UAPI socket is served by another process
  | 'EIO' // the kernel refused, or an internal failure
  | 'ETIMEDOUT' // client: no answer in time
  | 'EPROTO' // client: the daemon answered something that is not the protocol
  | 'ECONNREFUSED'; // client: nothing listens on the control socket

export const WGD_ERROR_CODES: readonly WgdErrorCode[] = [
  'EINVAL',
  'EEXIST',
  'ENOENT',
  'EADDRINUSE',
  'EIO',
  'ETIMEDOUT',
  'EPROTO',
  'ECONNREFUSED',
];

export interface WgdErrorContext {
  /** The request field at fault (`name`, `netns`, `mtu`, `op`, ...). */
  readonly field?: string;
  /** The device concerned. */
  readonly device?: string;
  /** A socket or namespace path. */
  readonly path?: string;
}

export class WgdError extends CodedError<WgdErrorCode, WgdErrorContext> {
  override readonly name = 'WgdError';
}

/** EINVAL for `field`, with the message starting with the field's name. */
export function invalidField(field: string, reason: string): WgdError {
  return new WgdError('EINVAL', `${field}: ${reason}`, { field });
}
