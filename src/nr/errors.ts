/**
 * Typed errors of src/nr: a stable code, the field or object concerned, and the reason.
 * Messages name namespaces, links, addresses and nft tables, never key material: a private key
 * only ever travels inside a PrivateKey, which prints as a placeholder.
 */
import { CodedError } from '../common/coded-error.js';

export type NrErrorCode =
  | 'EINVAL' // bad input to plan/NetworkResources (the field is named)
  | 'EALLOC' // no free public address left
  | 'ESTEP' // a step failed while applying (the step is named)
  | 'EREAD' // a namespace could not be read (which, and why)
  | 'ECONFLICT' // something not ours is in the way (the field is named)
  | 'EWG'; // the WireGuard backend refused or is unreachable

export interface NrErrorContext {
  /** The input field at fault (`prefix`, `publicAddress`, `resource.subnet`, ...). */
  readonly field?: string;
  /** The namespace concerned (its name, or "host"). */
  readonly netns?: string;
  /** A short description of the step that failed. */
  readonly step?: string;
  /** The WireGuard device concerned. */
  readonly device?: string;
}

export class NrError extends CodedError<NrErrorCode, NrErrorContext> {
  override readonly name = 'NrError';
}

/** Bad input: "field: reason". */
export function invalidInput(field: string, reason: string): NrError {
  return new NrError('EINVAL', `${field}: ${reason}`, { field });
}
