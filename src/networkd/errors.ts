/**
 * Typed errors of networkd. Each carries a code, the HTTP status the API answers with, the
 * field or object it concerns, and (for definitions) every validation issue. Messages name the
 * problem and never carry key material: only public values are ever formatted into them.
 */

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

/** One validation problem: a JSON pointer (or field name) and the reason. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

export interface NetworkdErrorContext {
  readonly field?: string;
  readonly network?: string;
  readonly workload?: string;
  readonly issues?: readonly Issue[];
}

export class NetworkdError extends Error {
  override readonly name = 'NetworkdError';
  readonly code: NetworkdErrorCode;
  readonly context: NetworkdErrorContext;

  constructor(code: NetworkdErrorCode, message: string, context: NetworkdErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.context = context;
  }

  get status(): number {
    return STATUS[this.code];
  }

  /** What the API sends: code, message and the context (all public values). */
  toJSON(): object {
    return { error: { code: this.code, message: this.message, ...this.context } };
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
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
  const kind = error instanceof Error ? error.name : typeof error;
  return new NetworkdError('EINTERNAL', `internal error (${kind}${code ? ` ${code}` : ''})`, {}, { cause: error });
}
