/**
 * Benchmark of networkd's workload links (src/nr/workload-link.ts): 10 NR-shaped
 * namespaces (a br0 with the gateway address, as an NR has) × 4 workload namespaces each.
 * Rows: attach all 40 (cold), re-check all 40 when nothing changed (what every reconcile pass
 * does per workload), list the wl-* links of the 10 NRs, detach all 40. With `KernelWorkloadLinks`
 * (the instance networkd keeps), the re-check is also timed through it: first pass (reads every
 * namespace once) and steady pass (nothing changed since). Everything lives in a harness World
 * (run prefix), removed at the end.
 *
 *   npx tsx scripts/bench/workload-links.ts [--networks 10] [--per-network 4] [--rounds 3]
 */
import { WG_MTU } from '../../src/netdef/index.js';
import { World } from '../../src/sim/harness/index.js';
import * as workloadLink from '../../src/nr/workload-link.js';
import type { WorkloadLinkSpec } from '../../src/nr/workload-link.js';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}
const NETWORKS = option('--networks', 10);
const PER_NETWORK = option('--per-network', 4);
const ROUNDS = option('--rounds', 3);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Kept {
  attach(spec: WorkloadLinkSpec): Promise<boolean>;
  close(): void;
}

async function main(): Promise<void> {
  const world = await World.create();
  const rows: Array<[string, number[]]> = [];
  const row = (what: string, ms: number): void => {
    const found = rows.find((r) => r[0] === what);
    if (found) found[1].push(ms);
    else rows.push([what, [ms]]);
  };
  try {
    const specs: WorkloadLinkSpec[] = [];
    for (let n = 0; n < NETWORKS; n++) {
      const nr = await world.namespace(`n${n}`);
      await nr.ip(['link', 'add', 'br0', 'type', 'bridge']);
      await nr.ip(['addr', 'add', `10.200.${n}.1/24`, 'dev', 'br0']);
      await nr.ip(['link', 'set', 'br0', 'up']);
      for (let w = 0; w < PER_NETWORK; w++) {
        const wl = await world.namespace(`w${n}x${w}`);
        specs.push({
          nrNetns: nr.path,
          link: workloadLink.workloadLinkName(`bench-${n}-${w}`),
          netns: wl.path,
          ifname: 'eth0',
          serviceAddresses: [],
          ip: `10.200.${n}.${w + 2}`,
          gateway: `10.200.${n}.1`,
          mtu: WG_MTU,
        });
      }
    }
    const nrPaths = [...new Set(specs.map((s) => s.nrNetns))];
    const KeptClass = (workloadLink as Record<string, unknown>).KernelWorkloadLinks as (new () => Kept) | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      row(
        `attach ${specs.length} (cold)`,
        await timed(async () => {
          for (const spec of specs)
            if (!(await workloadLink.attachWorkloadLink(spec))) throw new Error('a cold attach reported no change');
        }),
      );
      row(
        `re-check ${specs.length}, nothing changed`,
        await timed(async () => {
          for (const spec of specs)
            if (await workloadLink.attachWorkloadLink(spec)) throw new Error('a re-check reported a change');
        }),
      );
      if (KeptClass) {
        const kept = new KeptClass();
        try {
          row(
            `re-check ${specs.length}, kept instance, first pass`,
            await timed(async () => {
              for (const spec of specs) await kept.attach(spec);
            }),
          );
          row(
            `re-check ${specs.length}, kept instance, steady`,
            await timed(async () => {
              for (const spec of specs) if (await kept.attach(spec)) throw new Error('a re-check reported a change');
            }),
          );
        } finally {
          kept.close();
        }
      }
      row(
        `list wl-* links of ${nrPaths.length} NRs`,
        await timed(async () => {
          for (const path of nrPaths)
            if ((await workloadLink.listWorkloadLinks(path)).length !== PER_NETWORK)
              throw new Error('wrong link count');
        }),
      );
      row(
        `detach ${specs.length}`,
        await timed(async () => {
          for (const spec of specs) await workloadLink.detachWorkloadLink(spec.nrNetns, spec.link);
        }),
      );
    }
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\nworkload links: ${NETWORKS} NRs × ${PER_NETWORK} workloads, ${ROUNDS} round(s); median (min–max) ms\n`,
    );
    console.log(`${'operation'.padEnd(width)} | median ms |     min–max ms | ms per workload`);
    console.log(`${'-'.repeat(width)}-|-----------|----------------|----------------`);
    for (const [what, values] of rows) {
      const per = what.startsWith('list') ? nrPaths.length : specs.length;
      console.log(
        `${what.padEnd(width)} | ${median(values).toFixed(1).padStart(9)} | ${`${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`.padStart(14)} | ${(median(values) / per).toFixed(2).padStart(14)}`,
      );
    }
  } finally {
    await world.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
