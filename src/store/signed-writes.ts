/**
 * A store whose definition writes are signed: every definition it creates or edits passes
 * through `sign` (the admin key's signDefinition, or the tool's unsigned-with-a-warning) just
 * before it is written, so a compare-and-swap retry signs the revision it actually writes.
 */
import type { NetworkDefinition } from '../netdef/index.js';
import type { DefinitionStore } from './store.js';

export function withSignedWrites<T extends DefinitionStore>(store: T, sign: (def: NetworkDefinition) => NetworkDefinition): T {
  const createNetwork = store.createNetwork.bind(store);
  const editNetwork = store.editNetwork.bind(store);
  return Object.assign(Object.create(store) as T, {
    createNetwork: (def: NetworkDefinition, opts?: { replace?: boolean }) => createNetwork(sign(def), opts),
    editNetwork: (name: string, change: Parameters<T['editNetwork']>[1]) => editNetwork(name, async (current) => sign(await change(current))),
  });
}
