/**
 * Where a `zmesh net` verb reads and writes: a bare definition FILE (as always), or the network
 * NAME in a store — named by --store URL, or by ZMESH_STORE when the argument is a plain name
 * rather than a path. Also the one mapping of store errors to the CLI's problems.
 */

import { NETWORK_NAME_PATTERN } from '../netdef/index.js';
import { type DefinitionStore, STORE_ENV, StoreError, openStore } from '../store/index.js';
import { CliError, envOf, type Invocation, type OptionSpec } from './command.js';

export const STORE_OPTION: OptionSpec = {
  type: 'string',
  value: 'URL',
  description: `the store: file:DIR or etcd://HOST:PORT[,HOST:PORT…][?ca=F&cert=F&key=F] (default $${STORE_ENV}); FILE is then the network's name`,
};

export type Target =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'store'; readonly store: DefinitionStore; readonly name: string; readonly label: string };

const PLAIN_NAME = new RegExp(NETWORK_NAME_PATTERN);

/** The store URL of an invocation: --store, else $ZMESH_STORE; undefined for neither. */
export function storeUrlOf(invocation: Invocation): string | undefined {
  return invocation.args.strings['store'] ?? (envOf(invocation.io, STORE_ENV) || undefined);
}

/** Opens the store a URL names; a bad URL is a usage error about --store. */
export function openStoreOption(url: string): DefinitionStore {
  try {
    return openStore(url);
  } catch (error) {
    throw storeCliError(error);
  }
}

export function resolveTarget(invocation: Invocation): Target {
  const argument = invocation.args.positionals['FILE'] as string; // required by the command table
  const explicit = invocation.args.strings['store'];
  const url = storeUrlOf(invocation);
  // With ZMESH_STORE only, a path (a "/" or a .json name) is still a bare FILE.
  const isName =
    explicit !== undefined || (url !== undefined && PLAIN_NAME.test(argument) && !argument.endsWith('.json'));
  if (url === undefined || !isName) return { kind: 'file', file: argument };
  if (!PLAIN_NAME.test(argument))
    throw CliError.invalid('FILE', `"${argument}" is not a network name (with --store, give the network's name)`);
  const store = openStoreOption(url);
  return { kind: 'store', store, name: argument, label: `${store.description} network ${argument}` };
}

/** A StoreError as CLI problems: unreachable/no quorum fails (exit 1), bad input is invalid (exit 2). */
export function storeCliError(error: unknown): unknown {
  if (!(error instanceof StoreError)) return error;
  switch (error.code) {
    case 'EUNAVAILABLE':
    case 'ECONFLICT':
      return CliError.failed('--store', error.message);
    case 'EDENIED':
      return CliError.failed('--store', error.message);
    case 'EURL':
      return CliError.invalid('--store', error.message);
    case 'ENOTFOUND':
    case 'EEXISTS':
      return CliError.invalid('FILE', error.message);
    default:
      return CliError.invalid(error.context.key ?? '--store', error.message);
  }
}

/** Runs `fn` with the target's store closed afterwards; store errors become CLI problems. */
export async function withTarget<T>(target: Target, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw storeCliError(error);
  } finally {
    if (target.kind === 'store') await target.store.close();
  }
}
