/**
 * Benchmark of src/nr: apply 1, 10 and 100 NRs on one simulated node, a no-op reconcile of 100,
 * and teardown — beside nr-shell.sh doing the same objects with ip(8)/nft(8) in the same run.
 * Each NR has one WireGuard peer on the zmesh side; the shell side has no WireGuard (this kernel
 * has no wireguard module and a wireguard-go per NR would price processes): a TUN stands in, the
 * kernel object zmesh's userspace device is. Both sides make the same namespace, veth pair, bridge,
 * addresses, routes, sysctl and nft table per NR. The multi-NR applies run as networkd's reconcile
 * does (RECONCILE_IN_FLIGHT at once; `--in-flight N` to change); the shell applies one by one.
 * Everything lives in namespaces of a harness World (run prefix), removed at the end.
 *
 * Two no-op rows: the first pass after the applies reads every namespace and device once (the
 * applies changed them); the steady pass is what networkd's periodic reconcile costs when nothing
 * changed since the last one (NetworkResources remembers what it read while the kernel reports no
 * change). `--steps` adds where the time of the applies went, per step kind.
 *
 *   npx tsx scripts/bench/nr.ts [--max 100] [--steps]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { World, spawnWgd } from '../../src/sim/harness/index.js';
import {
  type NetworkDefinition,
  type NodeResource,
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  openResourceKey,
  ready,
  resourceFor,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import {
  type ApplyReport,
  NetworkResources,
  UserspaceWgBackend,
  allocatePublicAddress,
  type NrApplyContext,
} from '../../src/nr/index.js';
import { native } from '../../src/native/binding.js';
import { RECONCILE_IN_FLIGHT } from '../../src/networkd/service.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHELL = path.join(ROOT, 'scripts/bench/nr-shell.sh');
const maxIndex = process.argv.indexOf('--max');
const MAX = maxIndex > 0 ? Number(process.argv[maxIndex + 1]) : 100;
const SHOW_STEPS = process.argv.includes('--steps');
const inFlightIndex = process.argv.indexOf('--in-flight');
/** NRs applied at once in the multi-NR rows (networkd's reconcile runs this many). */
const IN_FLIGHT = inFlightIndex > 0 ? Number(process.argv[inFlightIndex + 1]) : RECONCILE_IN_FLIGHT;
/** Per step kind: [count, total ms], for --steps. */
const stepTotals = new Map<string, Map<string, [number, number]>>();

function addStep(phase: string, kind: string, ms: number): void {
  const totals = stepTotals.get(phase) ?? new Map<string, [number, number]>();
  stepTotals.set(phase, totals);
  const entry = totals.get(kind) ?? [0, 0];
  entry[0]++;
  entry[1] += ms;
  totals.set(kind, entry);
}

function account(phase: string, report: ApplyReport): void {
  addStep(phase, '(inspect)', report.inspectMs);
  for (const step of report.steps) addStep(phase, step.kind, step.ms);
}

interface Input {
  resource: NodeResource;
  ctx: NrApplyContext;
}

function inputs(count: number): Input[] {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const recordA = assertNodeRecord({ id: 'a', identityKey: a.publicKey, endpoints: ['198.51.100.11'], hidden: false });
  const recordB = assertNodeRecord({ id: 'b', identityKey: b.publicKey, endpoints: ['198.51.100.12'], hidden: false });
  const used: string[] = [];
  const out: Input[] = [];
  for (let i = 0; i < count; i++) {
    let def: NetworkDefinition = createNetwork(`bench-${i}`, `10.${i}.0.0/16`);
    def = addNode(addNode(def, recordA, sodiumKeySource), recordB, sodiumKeySource);
    const publicAddress = allocatePublicAddress(used);
    used.push(publicAddress);
    const privateKey = openResourceKey(def.resources[0]!, a.privateKey);
    out.push({ resource: resourceFor(def, 'a'), ctx: { publicAddress, privateKey } });
  }
  return out;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

async function main(): Promise<void> {
  await ready();
  const all = inputs(MAX);
  const world = await World.create();
  try {
    const node = await world.namespace('node');
    const dir = world.tempDir();
    const control = path.join(dir, 'ctl', 'wgd.sock');
    const wgd = await spawnWgd(node, { control, uapiDir: path.join(dir, 'uapi') });
    const nr = new NetworkResources({
      prefix: `${world.prefix}z`,
      wg: new UserspaceWgBackend({ wgd: wgd.client }),
      hostNetns: node.path,
    });
    const shellPrefix = `${world.prefix}s`;
    const shell = (action: string, args: string[]) =>
      execa(SHELL, [action, shellPrefix, node.name, ...args], { timeout: 600_000 });
    const items = (n: number, from = 0) => all.slice(from, from + n).map((x, i) => `${x.resource.netId}:${from + i}`);
    const ids = (n: number) => all.slice(0, n).map((x) => x.resource.netId);
    /** At most `width` applies in flight (1: one after the other), as networkd's reconcile runs them. */
    const applyAll = async (list: Input[], phase = '', width = 1) => {
      let steps = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(width, list.length) }, async () => {
          while (next < list.length) {
            const { resource, ctx } = list[next++]!;
            const report = await nr.applyNr(resource, ctx);
            if (phase) account(phase, report);
            steps += report.steps.length;
          }
        }),
      );
      return steps;
    };
    const removeAll = async (list: Input[]) => {
      for (const { resource } of list) await nr.removeNr(resource.netId);
    };
    const rows: Array<[string, number, number, string]> = [];

    const [ndmzMs] = await timed(() => nr.ensureNdmz());
    const [ndmzShellMs] = await timed(() => shell('ndmz', []));
    rows.push(['ndmz (host side + namespace)', ndmzMs, ndmzShellMs, '']);

    for (const n of [1, 10, MAX].filter((v, i, a) => v <= MAX && a.indexOf(v) === i)) {
      const list = all.slice(0, n);
      const width = n > 1 ? IN_FLIGHT : 1;
      const [ms, steps] = await timed(() => applyAll(list, `apply ${n}`, width));
      const [shellMs] = await timed(() => shell('apply', items(n)));
      rows.push([
        `apply ${n} NR${n > 1 ? 's' : ''} (${steps} steps${width > 1 ? `, ${width} in flight` : ''})`,
        ms,
        shellMs,
        n === 1 ? '≤ 50 ms' : n === 100 ? '≤ 5000 ms' : '',
      ]);
      if (n !== MAX) {
        await removeAll(list);
        await execa(SHELL, ['teardown', shellPrefix, node.name, ...ids(n)]);
        await shell('ndmz', []);
      }
    }
    const [firstNoopMs, firstNoopSteps] = await timed(() => applyAll(all));
    const [checkMs] = await timed(() => shell('check', ids(MAX)));
    rows.push([
      `no-op of ${MAX}, first after apply (${firstNoopSteps} steps; shell: read back)`,
      firstNoopMs,
      checkMs,
      '',
    ]);
    const [noopMs, noopSteps] = await timed(() => applyAll(all));
    rows.push([`no-op reconcile of ${MAX}, steady (${noopSteps} steps)`, noopMs, checkMs, '≤ 200 ms']);
    const [noop8Ms, noop8Steps] = await timed(() => applyAll(all, '', 8));
    rows.push([`no-op reconcile of ${MAX}, steady, 8 in flight (${noop8Steps} steps)`, noop8Ms, checkMs, '≤ 200 ms']);
    // Until the kernel has destroyed what was deleted (the host's veth end is the last to go),
    // as the shell waits: names are free for reuse only then.
    const [teardownMs, teardownReport] = await timed(async () => {
      const report = await nr.teardownAll();
      const gone = performance.now();
      const deadline = gone + 30_000;
      while (native().linkIndex(node.path, `${nr.prefix}ndmz0`) > 0) {
        if (performance.now() > deadline) throw new Error('the host veth end outlived teardown by 30 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      addStep(`teardown ${MAX}`, '(kernel cleanup)', performance.now() - gone);
      return report;
    });
    account(`teardown ${MAX}`, teardownReport);
    const [teardownShellMs] = await timed(() => shell('teardown', ids(MAX)));
    rows.push([`teardown of ${MAX} + ndmz`, teardownMs, teardownShellMs, '']);

    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\nsrc/nr vs ip/nft shell, one node namespace, ${MAX} NRs (zmesh: a userspace WireGuard device with 1 peer per NR; shell: a TUN in its place)\n`,
    );
    console.log(`${'operation'.padEnd(width)} | zmesh ms | shell ms | shell/zmesh | goal`);
    console.log(`${'-'.repeat(width)}-|----------|----------|-------------|------`);
    for (const [what, ms, shellMs, goal] of rows) {
      console.log(
        `${what.padEnd(width)} | ${ms.toFixed(1).padStart(8)} | ${shellMs.toFixed(1).padStart(8)} | ${(shellMs / ms).toFixed(1).padStart(10)}x | ${goal}`,
      );
    }
    if (SHOW_STEPS) {
      for (const [phase, totals] of stepTotals) {
        console.log(`\n${phase}: ms per step kind (steps run concurrently at the tail, so they overlap)`);
        for (const [kind, [count, total]] of [...totals].sort((a, b) => b[1][1] - a[1][1])) {
          console.log(
            `  ${kind.padEnd(20)} n=${String(count).padStart(4)} total ${total.toFixed(1).padStart(8)} ms  mean ${(total / count).toFixed(2)} ms`,
          );
        }
      }
    }
  } finally {
    await world.teardown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
