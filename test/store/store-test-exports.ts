// What the store tests use from src/store, plus a raw range read for counting keys.
import { rangePrefix } from '../../src/store/etcd-client.js';
import type { EtcdStore } from '../../src/store/index.js';
export * from '../../src/store/index.js';

export function rangePrefixForTest(store: EtcdStore, prefix: string) {
  return rangePrefix(store.client, prefix);
}
