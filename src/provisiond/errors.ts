/**
 * Typed errors of provisiond. Each carries a code, the HTTP status its local API answers with,
 * and the field (JSON pointer or option) or task it concerns. Messages name the problem and
 * never carry key material: a task's body is never formatted into a message, only the public
 * values (ids, names, paths) and networkd's own, already sanitised, error messages.
 */
import { internalErrorMessage } from '../common/coded-error.js';
import { ApiError, type ApiErrorCode, type Issue } from '../http/api-error.js';

/**
 * The API codes provisiond answers (their HTTP statuses: src/http/api-error.ts): ECONFLICT is a
 * task id reused with another body, ESTATE a task whose state forbids the operation (cancel a
 * running task), EUNAVAILABLE the queue stopping or provisiond not reached.
 */
export type ProvisiondErrorCode = Exclude<ApiErrorCode, 'ENOTMEMBER' | 'EKERNEL'>;

export type { Issue };

export interface ProvisiondErrorContext {
  readonly field?: string;
  readonly task?: string;
  readonly issues?: readonly Issue[];
}

export class ProvisiondError extends ApiError<ProvisiondErrorCode, ProvisiondErrorContext> {
  override readonly name = 'ProvisiondError';
}

/** EINVAL whose message starts with the field (a JSON pointer such as /definition/resources/0/subnet). */
export function invalid(field: string, reason: string, context: ProvisiondErrorContext = {}): ProvisiondError {
  return new ProvisiondError('EINVAL', `${field || '/'}: ${reason}`, { field: field || '/', ...context });
}

/** EINVAL for a document with several issues: the first in the message, all in the context. */
export function invalidDocument(
  what: string,
  issues: readonly Issue[],
  context: ProvisiondErrorContext = {},
): ProvisiondError {
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new ProvisiondError(
    'EINVAL',
    `invalid ${what}: ${first?.path || '/'}: ${first?.message ?? 'invalid'}${more}`,
    {
      field: first?.path || '/',
      issues,
      ...context,
    },
  );
}

/** Any error as a ProvisiondError; a foreign error keeps only its class and errno-like code. */
export function asProvisiondError(error: unknown): ProvisiondError {
  if (error instanceof ProvisiondError) return error;
  return new ProvisiondError('EINTERNAL', internalErrorMessage(error), {}, { cause: error });
}
