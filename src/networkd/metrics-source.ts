/**
 * Where networkd's metrics sample comes from: the service's network descriptions (the same
 * read as GET /v1/networks), each network's member count from the store, and wgd's drop counters.
 */
import type { WgdClient } from '../wg/wgd/client.js';
import type { SamplerSource } from './metrics-sampler.js';
import type { NetworkService } from './service.js';
import type { Store } from './store.js';

export function networkdSamplerSource(service: NetworkService, store: Store, wgd: WgdClient | null): SamplerSource {
  return {
    async networks() {
      const described = await service.listNetworks();
      return described.map((n) => ({
        network: n.network,
        revision: n.revision,
        node: n.node,
        hidden: n.hidden,
        nrExists: n.nrExists,
        otherNodes: Math.max(0, (store.network(n.network)?.definition.resources.length ?? 1) - 1),
        device: n.device,
        workloads: n.workloads.length,
      }));
    },
    async drops() {
      if (!wgd) return new Map();
      return new Map((await wgd.list()).map((d) => [d.name, d.drops ?? {}]));
    },
  };
}
