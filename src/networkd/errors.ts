/**
 * Typed errors of networkd. Each carries a code, the HTTP status the API answers with, the
 * field or object it concerns, and (for definitions) every validation issue. Messages name the
 * problem and never carry key material: only public values are ever formatted into them.
 */
import { internalErrorMessage } from '../common/coded-error.js';
import { ApiError, type Issue } from '../http/api-error.js';

export type NetworkdErrorCode =
  | 'EINVAL' // malformed request (field named) → 400
  | 'ENOENT' // unknown network, workload or route → 404
  | 'ENOTMEMBER' // the definition does not contain this node → 422
  | 'ECONFLICT' // revision older/equal-but-different, address taken, workload id reused → 409
  | 'ETOOLARGE' // request body over the limit → 413
  | 'EMETHOD' // method not allowed on the path → 405
  | 'EKERNEL' // the kernel or wgd refused a change → 500
  | 'EUNAVAILABLE' // wgd or a backend is not available → 503
  | 'EINTERNAL'; // a bug: never carries the foreign error's text → 500

const STATUS: Readonly<Record<NetworkdErrorCode, number>> = {
  EINVAL: 400,
  ENOENT: 404,
  ENOTMEMBER: 422,
  ECONFLICT: 409,
  ETOOLARGE: 413,
  EMETHOD: 405,
  EKERNEL: 500,
  EUNAVAILABLE: 503,
  EINTERNAL: 500,
};

export type { Issue };

export interface NetworkdErrorContext {
  readonly field?: string;
  readonly network?: string;
  readonly workload?: string;
  readonly issues?: readonly Issue[];
}

export class NetworkdError extends ApiError<NetworkdErrorCode, NetworkdErrorContext> {
  override readonly name = 'NetworkdError';

  get status(): number {
    return STATUS[this.code];
  }
}

/** EINVAL whose message starts with the field's name. */
export function invalid(field: string, reason: string, context: NetworkdErrorContext = {}): NetworkdError {
  return new NetworkdError('EINVAL', `${field}: ${reason}`, { field, ...context });
}

export function conflict(field: string, reason: string, context: NetworkdErrorContext = {}): NetworkdError {
  return new NetworkdError('ECONFLICT', `${field}: ${reason}`, { field, ...context });
}

export function notFound(what: string, context: NetworkdErrorContext = {}): NetworkdError {
  return new NetworkdError('ENOENT', what, context);
}

/**
 * Any error as a NetworkdError. A foreign error keeps only its class and errno-like code in the
 * message: its text could carry anything (a command line, a file's content), never a secret here.
 */
export function asNetworkdError(error: unknown): NetworkdError {
  if (error instanceof NetworkdError) return error;
  return new NetworkdError('EINTERNAL', internalErrorMessage(error), {}, { cause: error });
}
