/** The public face of src/store (see store.ts for the interface, keys.ts for the layout). */
export * from './assemble.js';
export * from './errors.js';
export { CALL_DEADLINE_MS, connectEtcd, rangePrefix, storeErrorOf, type RangeResult } from './etcd-client.js';
export * from './etcd-store.js';
export * from './file-store.js';
export * from './keys.js';
export * from './open.js';
export * from './store.js';
export * from './url.js';
export * from './values.js';
export * from './rollout.js';
export * from './redemption-reports.js';
export * from './dump.js';
export * from './access.js';
export * from './certificates.js';
export * from './endpoint-resolver.js';
export * from './signed-writes.js';
