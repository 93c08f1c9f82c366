/**
 * The error type of zmesh's JSON APIs (networkd's, provisiond's): a CodedError whose code is one
 * of the API codes below, with the HTTP status every API answers it with, and what the API sends
 * for it, `{ error: { code, message, ...context } }`. Each daemon has its subclass (its name, its
 * subset of the codes, its context); the codes and their statuses are defined here once.
 */
import { CodedError } from '../common/coded-error.js';

/** One validation problem: a JSON pointer (or field name) into the checked document and the reason. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

const STATUS = {
  EINVAL: 400, // malformed request (field named)
  ENOENT: 404, // unknown object or route
  EMETHOD: 405, // method not allowed on the path
  ECONFLICT: 409, // the request conflicts with what exists (revision, address, id reused)
  ESTATE: 409, // the object's state forbids the operation
  ETOOLARGE: 413, // request body over the limit
  ENOTMEMBER: 422, // the definition does not contain this node
  EKERNEL: 500, // the kernel or a device refused a change
  EINTERNAL: 500, // a bug: never carries the foreign error's text
  EUNAVAILABLE: 503, // a backend is not available, or the daemon is stopping
} as const;

export type ApiErrorCode = keyof typeof STATUS;

export abstract class ApiError<Code extends ApiErrorCode, Context extends object> extends CodedError<Code, Context> {
  /** The HTTP status the API answers this error with. */
  get status(): number {
    return STATUS[this.code];
  }

  /** What the API sends: code, message and the context (all public values). */
  toJSON(): object {
    return { error: { code: this.code, message: this.message, ...this.context } };
  }
}
