/**
 * A store whose definition writes are signed: every definition it creates or edits passes
 * through `sign` (the admin key's signDefinition, or the tool's unsigned-with-a-warning) just
 * before it is written, so a compare-and-swap retry signs the revision it actually writes.
 */
import type { NetworkDefinition } from '../netdef/index.js';
import type { DefinitionStore } from './store.js';

export function withSignedWrites<T extends DefinitionStore>(
  store: T,
  sign: (def: NetworkDefinition) => NetworkDefinition,
): T {
  const createNetwork = (def: NetworkDefinition, opts?: { replace?: boolean }) => store.createNetwork(sign(def), opts);
  const editNetwork = (name: string, change: Parameters<T['editNetwork']>[1]) =>
    store.editNetwork(name, async (current) => sign(await change(current)));
  // A proxy, not a prototype copy: the store's getters and methods read its private fields
  // (`#client`), which exist only on the store itself, so they must run with it as `this`.
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'createNetwork') return createNetwork;
      if (prop === 'editNetwork') return editNetwork;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
