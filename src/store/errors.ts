/**
 * Typed errors of the store. Each names what it concerns (a key, a network, the URL) and why;
 * none carries a value's content beyond its JSON path, so a sealed key never reaches a log.
 */

import { CodedError } from '../common/coded-error.js';

export type StoreErrorCode =
  /** The store URL cannot be parsed. */
  | 'EURL'
  /** A value read from the store is not what the layout says lives under its key. */
  | 'EBADVALUE'
  /** The network (or node record) does not exist. */
  | 'ENOTFOUND'
  /** The network already exists (create without replace). */
  | 'EEXISTS'
  /** Compare-and-swap lost every attempt (other writers kept winning). */
  | 'ECONFLICT'
  /** No member answered, or the cluster has no leader: nothing was written. */
  | 'EUNAVAILABLE'
  /** The store refused the credentials or the key (etcd auth / roles). */
  | 'EDENIED'
  /** An export file that is not a dump this version can import. */
  | 'EDUMP';

export interface StoreErrorContext {
  readonly key?: string;
  readonly network?: string;
  readonly path?: string;
  readonly store?: string;
}

export class StoreError extends CodedError<StoreErrorCode, StoreErrorContext> {
  constructor(code: StoreErrorCode, message: string, context: StoreErrorContext = {}, options?: { cause?: unknown }) {
    super(code, message, context, options);
    this.name = 'StoreError';
  }
}
