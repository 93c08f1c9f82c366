/**
 * The shape zmesh's typed errors share: a stable code, the public context a reader needs (field,
 * device, namespace, ...) and an optional cause. Owns also how a foreign error is summarised when
 * it is wrapped: by its class and errno-like code only, since its text could carry anything (a
 * command line, a file's content) and a message of ours must never carry a secret.
 */

export class CodedError<Code extends string, Context extends object> extends Error {
  readonly code: Code;
  readonly context: Context;

  constructor(code: Code, message: string, context: Context = {} as Context, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.context = context;
  }
}

/** `internal error (TypeError)`, `internal error (Error ENOSPC)`: a foreign error without its text. */
export function internalErrorMessage(error: unknown, options: { withCode: boolean } = { withCode: true }): string {
  const kind = error instanceof Error ? error.name : typeof error;
  const code =
    options.withCode && typeof error === 'object' && error !== null && 'code' in error
      ? String((error as { code: unknown }).code)
      : undefined;
  return `internal error (${kind}${code ? ` ${code}` : ''})`;
}
