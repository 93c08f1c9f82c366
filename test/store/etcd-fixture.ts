// A real 3-member etcd cluster on 127.0.0.1 for one test, torn down (members SIGKILLed by PID,
// data dirs removed) whether the test passes or not; recorded in the run registry so a sweeper
// ends it if the test process is killed.
import type { ExecutionContext } from 'ava';
import { worldFor } from '../harness/ava.js';
import { EtcdCluster, type EtcdTlsFiles } from '../../src/sim/etcd-cluster.js';
import { EtcdStore, parseStoreUrl, type EtcdLocation } from '../../src/store/index.js';
import type { World } from '../harness/index.js';

export interface EtcdFixture {
  readonly world: World;
  readonly cluster: EtcdCluster;
  /** A store client; closed at teardown. */
  store(url?: string): EtcdStore;
}

export async function etcdFor(
  t: ExecutionContext,
  opts: { tls?: (index: number) => EtcdTlsFiles; world?: World } = {},
): Promise<EtcdFixture> {
  const world = opts.world ?? (await worldFor(t, { graceMs: 500 }));
  const cluster = await EtcdCluster.onLoopback(world, { ...(opts.tls ? { tls: opts.tls } : {}) });
  const stores: EtcdStore[] = [];
  t.teardown(async () => {
    for (const s of stores) await s.close();
  });
  return {
    world,
    cluster,
    store(url = cluster.url) {
      const s = new EtcdStore(parseStoreUrl(url) as EtcdLocation);
      stores.push(s);
      return s;
    },
  };
}
