/** A networkd metrics sample of N networks × P peers, as the sampler would take it (for the exposition tests and bench). */
import type { Sample, SampledNetwork } from '../../../src/networkd/metrics.js';

export function syntheticSample(networks: number, peers: number, time = 1_800_000_000): Sample {
  const list: SampledNetwork[] = [];
  for (let n = 0; n < networks; n++) {
    list.push({
      network: `net${n}`,
      revision: n + 1,
      node: 'alpha',
      hidden: false,
      nrExists: true,
      otherNodes: peers + 2,
      workloads: n % 4,
      device: {
        name: `w-${n.toString(16).padStart(6, '0')}`,
        peers: Array.from({ length: peers }, (_, p) => ({
          node: `node${p}`,
          publicKey: Buffer.alloc(32, n * 31 + p).toString('base64'),
          lastHandshakeAgeSeconds: p === 0 ? null : p * 30,
          rxBytes: 1000 * p + n,
          txBytes: 2000 * p + n,
        })),
      },
    });
  }
  return {
    time,
    networks: list,
    drops: new Map([['w-000000', { authFailed: 3, replay: 1, sourceNotAllowed: 0 }]]),
    seconds: 0.002,
  };
}
