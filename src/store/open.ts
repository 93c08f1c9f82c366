/** Opens the store a URL names. */

import { EtcdStore } from './etcd-store.js';
import { FileStore } from './file-store.js';
import type { DefinitionStore } from './store.js';
import { parseStoreUrl } from './url.js';

export function openStore(url: string): DefinitionStore {
  const location = parseStoreUrl(url);
  return location.kind === 'file' ? new FileStore(location.dir) : new EtcdStore(location);
}
