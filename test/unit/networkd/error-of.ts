import { NetworkdError } from '../../../src/networkd/errors.js';

/** The NetworkdError `fn` throws (its code, status and field are what the tests compare); any other outcome fails. */
export function errorOf(fn: () => unknown): NetworkdError {
  try {
    fn();
  } catch (error) {
    if (error instanceof NetworkdError) return error;
    throw error;
  }
  throw new Error('expected a NetworkdError');
}
