/**
 * The error type of a JSON API (networkd's, provisiond's): a CodedError that knows the HTTP
 * status of its code and what the API sends for it, `{ error: { code, message, ...context } }`.
 * Each daemon keeps its own codes, statuses and context; only the shape is shared.
 */
import { CodedError } from '../common/coded-error.js';

/** One validation problem: a JSON pointer (or field name) into the checked document and the reason. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

export abstract class ApiError<Code extends string, Context extends object> extends CodedError<Code, Context> {
  /** The HTTP status the API answers this error with. */
  abstract get status(): number;

  /** What the API sends: code, message and the context (all public values). */
  toJSON(): object {
    return { error: { code: this.code, message: this.message, ...this.context } };
  }
}
