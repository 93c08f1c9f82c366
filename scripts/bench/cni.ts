/**
 * zmesh-cni beside the containernetworking `bridge` + `host-local` plugins (Debian
 * containernetworking-plugins), in one run (npm run bench:cni [-- --count N --rounds R]):
 *
 *   For each plugin, N container namespaces get an ADD each, one after the other, then a DEL
 *   each — every call a fresh plugin process with the CNI_* environment and the configuration on
 *   stdin, started inside a node namespace of a harness world (`nsenter --net`), as a runtime on
 *   that node would run it; the bridge plugin makes its bridge there, never in the machine's own
 *   namespace. zmesh-cni talks to a real `zmesh networkd` in that node namespace. R rounds,
 *   alternating which plugin goes first.
 *
 *   Reported: p50 and p95 of ADD and of DEL, ADD+DEL per container, and the process start share:
 *   the p50 of a VERSION call (start, parse, answer; no work) over the p50 of ADD+DEL.
 *
 * zmesh-cni runs compiled (bin/zmesh-cni → dist/): run `npm run build:ts` first. Prints a table
 * and one JSON line.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { World } from '../../src/sim/harness/index.js';
import { distIsFresh } from '../../src/sim/zmesh-command.js';
import { call, makeNode, startNetworkd } from '../../test/netns/networkd-world.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '20' }, rounds: { type: 'string', default: '3' } },
});
const COUNT = Number(values.count);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(COUNT) || COUNT < 1 || COUNT > 250)
  throw new Error('--count: an integer from 1 to 250 (one /24)');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) throw new Error('--rounds: an integer from 1 to 20');

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CNI_PLUGINS = '/usr/lib/cni';

interface Plugin {
  readonly name: string;
  /** The program and its arguments (run under nsenter into the node namespace). */
  readonly argv: readonly string[];
  readonly config: object;
}

/** One plugin call as a runtime makes it: ms from spawn to exit, and what it printed. */
function invoke(
  nodeNs: string,
  plugin: Plugin,
  env: Record<string, string>,
): Promise<{ ms: number; code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('nsenter', [`--net=${nodeNs}`, ...plugin.argv], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: CNI_PLUGINS, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on('error', reject);
    child.stdin.on('error', () => {}); // a plugin may exit without reading stdin (bridge's VERSION)
    child.on('close', (code) => resolve({ ms: performance.now() - started, code: code ?? -1, stdout }));
    child.stdin.end(JSON.stringify(plugin.config));
  });
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

interface Samples {
  add: number[];
  del: number[];
  pair: number[];
  version: number[];
}

async function round(
  nodeNs: string,
  plugin: Plugin,
  namespaces: readonly string[],
  samples: Samples,
  tag: string,
): Promise<void> {
  const addMs: number[] = [];
  for (const [i, netns] of namespaces.entries()) {
    const r = await invoke(nodeNs, plugin, {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: `${tag}${i}`,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
    });
    if (r.code !== 0) throw new Error(`${plugin.name} ADD ${i} failed: ${r.stdout}`);
    addMs.push(r.ms);
  }
  for (const [i, netns] of namespaces.entries()) {
    const r = await invoke(nodeNs, plugin, {
      CNI_COMMAND: 'DEL',
      CNI_CONTAINERID: `${tag}${i}`,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
    });
    if (r.code !== 0) throw new Error(`${plugin.name} DEL ${i} failed: ${r.stdout}`);
    samples.add.push(addMs[i]!);
    samples.del.push(r.ms);
    samples.pair.push(addMs[i]! + r.ms);
  }
  for (let i = 0; i < 5; i++) samples.version.push((await invoke(nodeNs, plugin, { CNI_COMMAND: 'VERSION' })).ms);
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'cni', 'main.js')))
    throw new Error('dist/ has no zmesh-cni: run npm run build:ts first');
  if (!distIsFresh(join(ROOT, 'src'), join(ROOT, 'dist')))
    console.error('warning: dist/ is older than src/ (npm run build:ts): zmesh-cni runs from the last build');
  const world = await World.create();
  try {
    const node = await makeNode(world, 'bench');
    await startNetworkd(world, node);
    const network = `${world.prefix}-cni`;
    const applied = await call(node.socket, 'PUT', `/v1/networks/${network}`, node.definition(network, 1));
    if (applied.status !== 200) throw new Error(`apply: ${JSON.stringify(applied.body)}`);
    const namespaces: string[] = [];
    for (let i = 0; i < COUNT; i++) namespaces.push((await world.namespace(`b${i}`)).path);
    const dataDir = join(world.tempDir(), 'host-local');
    mkdirSync(dataDir, { recursive: true });
    const plugins: Plugin[] = [
      {
        name: 'zmesh-cni',
        argv: [process.execPath, join(ROOT, 'bin', 'zmesh-cni')],
        config: { cniVersion: '1.0.0', name: 'bench-zm', type: 'zmesh-cni', network, socket: node.socket },
      },
      {
        name: 'bridge+host-local',
        argv: [join(CNI_PLUGINS, 'bridge')],
        config: {
          cniVersion: '1.0.0',
          name: 'bench-br',
          type: 'bridge',
          bridge: `${world.prefix}br`,
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', subnet: '10.98.0.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
        },
      },
    ];
    writeFileSync(join(world.tempDir(), 'plugins.json'), JSON.stringify(plugins, null, 2));
    const samples = new Map(plugins.map((p) => [p.name, { add: [], del: [], pair: [], version: [] } as Samples]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? plugins : [...plugins].reverse();
      for (const plugin of order) await round(node.ns.path, plugin, namespaces, samples.get(plugin.name)!, `r${r}c`);
    }
    // networkd's own share: the same attach and detach straight to its API (no plugin process).
    const api = { attach: [] as number[], detach: [] as number[] };
    for (const [i, netns] of namespaces.entries()) {
      const started = performance.now();
      const reply = await call(node.socket, 'POST', `/v1/networks/${network}/workloads`, {
        workload: `api${i}`,
        netns,
        ifname: 'eth0',
      });
      if (reply.status !== 200) throw new Error(`API attach: ${JSON.stringify(reply.body)}`);
      api.attach.push(performance.now() - started);
    }
    for (let i = 0; i < namespaces.length; i++) {
      const started = performance.now();
      await call(node.socket, 'DELETE', `/v1/networks/${network}/workloads/api${i}`);
      api.detach.push(performance.now() - started);
    }
    const rows = plugins.map((p) => {
      const s = samples.get(p.name)!;
      return {
        plugin: p.name,
        addP50: quantile(s.add, 0.5),
        addP95: quantile(s.add, 0.95),
        delP50: quantile(s.del, 0.5),
        delP95: quantile(s.del, 0.95),
        pairP50: quantile(s.pair, 0.5),
        pairP95: quantile(s.pair, 0.95),
        versionP50: quantile(s.version, 0.5),
      };
    });
    const f = (n: number) => n.toFixed(1).padStart(7);
    console.log(`ADD+DEL of ${COUNT} containers × ${ROUNDS} rounds, each call a plugin process (ms)`);
    console.log('plugin               ADD p50  ADD p95  DEL p50  DEL p95  pair p50 pair p95  VERSION p50  start share');
    for (const row of rows) {
      console.log(
        `${row.plugin.padEnd(19)} ${f(row.addP50)}  ${f(row.addP95)}  ${f(row.delP50)}  ${f(row.delP95)}  ${f(row.pairP50)}  ${f(row.pairP95)}  ${f(row.versionP50)}      ${((100 * row.versionP50 * 2) / row.pairP50).toFixed(0)}%`,
      );
    }
    console.log(
      `${'(networkd API alone)'.padEnd(19)} ${f(quantile(api.attach, 0.5))}  ${f(quantile(api.attach, 0.95))}  ${f(quantile(api.detach, 0.5))}  ${f(quantile(api.detach, 0.95))}`,
    );
    const [zm, br] = rows;
    const ratio = zm!.pairP50 / br!.pairP50;
    console.log(`zmesh-cni / bridge+host-local, ADD+DEL p50: ${ratio.toFixed(2)}× (goal ≤ 2×)`);
    console.log(
      JSON.stringify({
        count: COUNT,
        rounds: ROUNDS,
        rows,
        ratio,
        api: { attachP50: quantile(api.attach, 0.5), detachP50: quantile(api.detach, 0.5) },
      }),
    );
  } finally {
    await world.teardown();
  }
}

await main();
