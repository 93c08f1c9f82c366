/**
 * Typed errors of networkd. Each carries a code, the HTTP status the API answers with, the
 * field or object it concerns, and (for definitions) every validation issue. Messages name the
 * problem and never carry key material: only public values are ever formatted into them.
 */
import { internalErrorMessage } from '../common/coded-error.js';
import { ApiError, type ApiErrorCode, type Issue } from '../http/api-error.js';

/** The API codes networkd answers (their HTTP statuses: src/http/api-error.ts). */
export type NetworkdErrorCode = Exclude<ApiErrorCode, 'ESTATE'>;

export type { Issue };

export interface NetworkdErrorContext {
  readonly field?: string;
  readonly network?: string;
  readonly workload?: string;
  readonly issues?: readonly Issue[];
}

export class NetworkdError extends ApiError<NetworkdErrorCode, NetworkdErrorContext> {
  override readonly name = 'NetworkdError';
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
