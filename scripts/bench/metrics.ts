/**
 * bench:metrics — the cost of one scrape of networkd's /metrics with N NRs × P peers (default
 * 100 × 10): the exposition served over HTTP on 127.0.0.1 from the sample networkd keeps (no
 * kernel or UAPI round trip happens per scrape), timed from request to last byte, S scrapes.
 *   npx tsx scripts/bench/metrics.ts [NRS] [PEERS] [SCRAPES]
 */
import { NetworkdMetrics } from '../../src/networkd/metrics.js';
import { MetricsServer } from '../../src/metrics/server.js';
import { syntheticSample } from '../../test/unit/metrics/synthetic.js';

const [nrs, peers, scrapes] = [
  Number(process.argv[2] ?? 100),
  Number(process.argv[3] ?? 10),
  Number(process.argv[4] ?? 50),
];
const metrics = new NetworkdMetrics({ node: 'bench', backend: 'userspace' });
metrics.setSample(syntheticSample(nrs, peers));
const server = await MetricsServer.listen(metrics.registry, { host: '127.0.0.1', port: 0 }, console.error);
const url = `http://127.0.0.1:${server.address.port}/metrics`;
const times: number[] = [];
let bytes = 0;
for (let i = 0; i < scrapes + 3; i++) {
  const started = performance.now();
  const text = await (await fetch(url)).text();
  if (i >= 3) times.push(performance.now() - started); // the first few warm the JIT
  bytes = text.length;
}
await server.close();
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
console.log(
  `scrape of ${nrs} NRs × ${peers} peers (${bytes} bytes): p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms over ${scrapes} scrapes`,
);
