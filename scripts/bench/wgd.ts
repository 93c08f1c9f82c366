/**
 * Memory, idle CPU and create-time benchmark of `zmesh wgd` (goal: 100 devices ≤ 80 MB RSS and
 * ≤ 1% of a core when idle).
 *
 *   npx tsx scripts/bench/wgd.ts [--devices N] [--tsx] [--node-options "FLAGS"]
 *
 * Builds a throw-away world with the netns harness: one "node" namespace running wgd and N NR
 * namespaces, one device each (TUN in the NR, UDP in the node). Prints wgd's memory from
 * /proc/PID/status and smaps_rollup at four points — started, N idle devices, each configured
 * with a key and one peer, and after traffic (devices paired over the node's loopback, one ping
 * through every pair, so every data-plane thread has touched its buffers) — then tears down.
 * Where the memory goes, at the first and the last point: /proc/PID/smaps by mapping (the node
 * binary, other files, the malloc arenas, thread stacks, the rest of the anonymous memory) and
 * V8's own count (wgd's `ping` answers process.memoryUsage()). Idle CPU over IDLE_CPU_MS.
 * wgd runs from dist/ (bin/zmesh; `npm run build:ts` first) unless --tsx or dist lacks wgd, in
 * which case it runs the sources under tsx (which itself costs memory: the figure says which),
 * with the Node options networkd starts it with (src/wg/wgd/node-options.ts) unless --node-options
 * names others ('' for none: to compare).
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { World, ping, runCommand, systemTool, type Namespace } from '../../src/sim/harness/index.js';
import { DH_GENERATE, ready as cryptoReady } from '../../src/wg/crypto.js';
import { UapiClient } from '../../src/wg/uapi/client.js';
import { WgdClient } from '../../src/wg/wgd/client.js';
import { WGD_NODE_OPTIONS } from '../../src/wg/wgd/node-options.js';
import type { DeviceInfo, WgdMemory } from '../../src/wg/wgd/protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOAL_MB = 80;
const GOAL_IDLE_CPU = 0.01;
const IDLE_CPU_MS = 10_000;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const devices = Number(option('--devices') ?? 100);
if (!Number.isInteger(devices) || devices < 2 || devices > 200 || devices % 2 !== 0) {
  process.stderr.write('--devices: an even number from 2 to 200\n');
  process.exit(2);
}
const nodeOptions = (option('--node-options') ?? WGD_NODE_OPTIONS.join(' ')).split(' ').filter(Boolean);
const useTsx = process.argv.includes('--tsx') || !existsSync(path.join(ROOT, 'dist/cli/wgd.js'));

interface Memory {
  rssMb: number;
  hwmMb: number;
  anonMb: number;
  fileMb: number;
  vmSizeMb: number;
  /** Proportional set size: shared pages (the node executable's) divided among their users. */
  pssMb: number;
  threads: number;
}

function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const mb = (key: string): number => Math.round(kb(key) / 102.4) / 10;
  return {
    rssMb: mb('VmRSS'),
    hwmMb: mb('VmHWM'),
    anonMb: mb('RssAnon'),
    fileMb: mb('RssFile'),
    vmSizeMb: mb('VmSize'),
    pssMb:
      Math.round(Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN) / 102.4) /
      10,
    threads: kb('Threads'),
  };
}

/**
 * CPU time (user + system) the process used over `ms`, as a share of one core, in all and by
 * thread name (zmesh-wg-tx/rx: the packet threads; node: the JS thread; V8 and libuv workers).
 */
async function cpuShare(pid: number, ms: number): Promise<{ total: number; byThread: Map<string, number> }> {
  const ticks = (): Map<string, number> => {
    const byTid = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        byTid.set(`${tid} ${name}`, Number(fields[11]) + Number(fields[12])); // utime, stime (fields 14, 15)
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return byTid;
  };
  const before = ticks();
  await new Promise((resolve) => setTimeout(resolve, ms)); // measuring over a fixed window is the point
  const byThread = new Map<string, number>();
  let total = 0;
  for (const [key, after] of ticks()) {
    const used = (after - (before.get(key) ?? 0)) / 100 / (ms / 1000); // USER_HZ is 100 on Linux
    const name = key.slice(key.indexOf(' ') + 1);
    byThread.set(name, (byThread.get(name) ?? 0) + used);
    total += used;
  }
  return { total, byThread };
}

/** Resident MB by kind of mapping, from /proc/PID/smaps (sums to VmRSS). */
interface Breakdown {
  /** The node executable's pages (file-backed, shared with every node process on the host). */
  nodeBinary: number;
  /** Other files: shared libraries, the addon. */
  otherFiles: number;
  /** The main malloc arena ([heap]). */
  mainArena: number;
  /** Thread stacks (an 8 MiB anonymous mapping after a guard page: the packet threads, libuv, V8). */
  threadStacks: number;
  /** The malloc arenas of other threads (64 MiB-aligned heaps). */
  threadArenas: number;
  /** All other anonymous memory: V8's heap and code, Node's and the addon's mmaps. */
  otherAnon: number;
}

const MIB = 1024 * 1024;

function breakdownOf(pid: number): Breakdown {
  const b: Breakdown = { nodeBinary: 0, otherFiles: 0, mainArena: 0, threadStacks: 0, threadArenas: 0, otherAnon: 0 };
  const node = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!;
  const nodeReal = existsSync(node) ? realpathSync(node) : node;
  let kind: keyof Breakdown = 'otherAnon';
  let previousGuardEnd = -1;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = Number.parseInt(head[1]!, 16);
      const end = Number.parseInt(head[2]!, 16);
      const [perms, name] = [head[3]!, head[4]!];
      const guard = perms.startsWith('---');
      if (name === '[heap]') kind = 'mainArena';
      else if (name.startsWith('/')) kind = name === nodeReal || name === node ? 'nodeBinary' : 'otherFiles';
      else if (name !== '')
        kind = 'otherAnon'; // [stack], [vdso], …: small
      else if (!guard && start === previousGuardEnd && end - start === 8 * MIB) kind = 'threadStacks';
      else if (!guard && start % (64 * MIB) === 0 && end - start <= 64 * MIB) kind = 'threadArenas';
      else kind = 'otherAnon';
      previousGuardEnd = guard && end - start === 4096 ? end : -1;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) b[kind] += Number(rss[1]) / 1024;
  }
  return b;
}

const rows: [string, Memory][] = [];
const breakdowns: [string, Breakdown, WgdMemory | undefined][] = [];
async function record(label: string, pid: number, client: WgdClient): Promise<void> {
  const m = memoryOf(pid);
  rows.push([label, m]);
  breakdowns.push([label, breakdownOf(pid), (await client.ping()).memory]);
  process.stderr.write(`  ${label}: RSS ${m.rssMb} MB, ${m.threads} threads\n`);
}

async function main(): Promise<number> {
  await cryptoReady();
  const world = await World.create();
  try {
    process.stderr.write(`world ${world.prefix}: ${devices} NR namespaces…\n`);
    const node = await world.namespace('node');
    const nrs: Namespace[] = [];
    for (let i = 0; i < devices; i++) nrs.push(await world.namespace(`r${i}`));
    const control = path.join(world.tempDir(), 'ctl', 'wgd.sock');
    const uapiDir = path.join(world.tempDir(), 'uapi');
    const program = useTsx ? ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts')] : [path.join(ROOT, 'bin/zmesh')];
    const wgd = node.spawn('node', [...nodeOptions, ...program, 'wgd', '--control', control, '--uapi-dir', uapiDir]);
    await wgd.waitForOutput(/zmesh wgd: ready/, { timeoutMs: 30_000 });
    const client = new WgdClient(control);
    await record('started', wgd.pid, client);

    const created: DeviceInfo[] = [];
    const createStart = performance.now();
    for (let i = 0; i < devices; i++)
      created.push((await client.create({ name: world.ifname(`w${i}`), netns: nrs[i]!.path })).device);
    const createMs = performance.now() - createStart;
    await record(`${devices} devices, idle`, wgd.pid, client);

    // Pair device 2k with 2k+1 over the node's loopback; each NR gets 10.200.k.{1,2}/24.
    const uapi = new UapiClient();
    const keys = created.map(() => DH_GENERATE());
    const hex = (key: Uint8Array): string => Buffer.from(key).toString('hex');
    for (let i = 0; i < devices; i++) {
      const peer = i ^ 1;
      const inner = (j: number): string => `10.200.${j >> 1}.${(j & 1) + 1}`;
      await uapi.set(
        created[i]!.uapiSocket,
        [
          `private_key=${hex(keys[i]!.privateKey)}`,
          `public_key=${hex(keys[peer]!.publicKey)}`,
          `endpoint=127.0.0.1:${created[peer]!.listenPort}`,
          `allowed_ip=${inner(peer)}/32`,
        ].join('\n'),
      );
      await nrs[i]!.addAddress(created[i]!.name, `${inner(i)}/24`);
      await nrs[i]!.setUp(created[i]!.name);
    }
    await record(`${devices} devices, configured`, wgd.pid, client);

    let lost = 0;
    for (let k = 0; k < devices / 2; k++) {
      const r = await ping(nrs[2 * k]!, `10.200.${k}.2`, { count: 1, timeoutMs: 5000 });
      if (r.loss > 0) lost++;
    }
    await record(`${devices} devices, after a ping through each pair`, wgd.pid, client);
    const listed = await client.list();
    const idleCpu = await cpuShare(wgd.pid, IDLE_CPU_MS);

    process.stdout.write(
      `\nzmesh wgd, ${devices} devices (${useTsx ? 'sources under tsx' : 'dist/ via bin/zmesh'}), Node ${process.version} ${nodeOptions.join(' ') || '(no options)'}\n`,
    );
    process.stdout.write(
      `create: ${devices} devices in ${createMs.toFixed(0)} ms (${(createMs / devices).toFixed(1)} ms each); list reports ${listed.length}; pairs without reply: ${lost} of ${devices / 2}\n\n`,
    );
    process.stdout.write(
      'point                                      RSS MB  anon MB  file MB  peak MB   PSS MB  threads\n',
    );
    for (const [label, m] of rows) {
      process.stdout.write(
        `${label.padEnd(42)} ${String(m.rssMb).padStart(6)} ${String(m.anonMb).padStart(8)} ${String(m.fileMb).padStart(8)} ${String(m.hwmMb).padStart(8)} ${String(m.pssMb).padStart(8)} ${String(m.threads).padStart(8)}\n`,
      );
    }
    const base = rows[0]![1].rssMb;
    const last = rows.at(-1)![1];
    const mb = (x: number): string => x.toFixed(1).padStart(7);
    process.stdout.write(
      '\nwhere it goes (MB): node binary, other files (libraries, addon), main malloc arena, thread stacks,\n' +
        "other threads' malloc arenas, other anonymous (V8 heap and code, mmaps); V8 heap committed / used, external\n",
    );
    process.stdout.write(
      'point                                       binary  files  arena stacks arenas   anon |   heap   used    ext\n',
    );
    for (const [label, b, v8] of breakdowns) {
      const v = (x: number | undefined): string => (x === undefined ? '      –' : mb(x / MIB));
      process.stdout.write(
        `${label.padEnd(42)} ${mb(b.nodeBinary)}${mb(b.otherFiles)}${mb(b.mainArena)}${mb(b.threadStacks)}${mb(b.threadArenas)}${mb(b.otherAnon)} |${v(v8?.heapTotal)}${v(v8?.heapUsed)}${v(v8?.external)}\n`,
      );
    }
    const first = breakdowns[0]![1];
    const final = breakdowns.at(-1)![1];
    const perDevice = (key: keyof Breakdown): string =>
      `${key} ${(((final[key] - first[key]) * 1024) / devices).toFixed(0)} kB`;
    process.stdout.write(`per device: ${(Object.keys(first) as (keyof Breakdown)[]).map(perDevice).join(', ')}\n`);
    const cpuMet = idleCpu.total <= GOAL_IDLE_CPU;
    const threads = [...idleCpu.byThread]
      .filter(([, share]) => share > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, share]) => `${name} ${(share * 100).toFixed(2)}%`)
      .join(', ');
    process.stdout.write(
      `\nidle CPU with ${devices} configured devices: ${(idleCpu.total * 100).toFixed(2)}% of one core (${IDLE_CPU_MS / 1000} s; ${threads || 'no thread ran'}); goal ≤ ${GOAL_IDLE_CPU * 100}%: ${cpuMet ? 'met' : 'NOT met'}\n`,
    );
    process.stdout.write(
      `per device: ${((last.rssMb - base) / devices).toFixed(2)} MB RSS; goal ${devices === 100 ? '' : '(for 100) '}≤ ${GOAL_MB} MB: ${last.hwmMb <= GOAL_MB ? 'met' : 'NOT met'} (peak ${last.hwmMb} MB)\n`,
    );
    process.stdout.write(`load: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);

    const stopStart = performance.now();
    process.kill(wgd.pid, 'SIGTERM');
    const status = await wgd.exited;
    process.stdout.write(
      `SIGTERM with ${devices} devices: exit ${status.exitCode ?? status.signal} in ${(performance.now() - stopStart).toFixed(0)} ms\n`,
    );
    if (process.env.BENCH_VERBOSE) process.stderr.write(wgd.stderr);
    const leftovers = (await runCommand(systemTool('ip'), ['-n', nrs[0]!.name, '-j', 'link', 'show'])).stdout.includes(
      created[0]!.name,
    );
    if (leftovers) process.stdout.write('warning: a TUN survived the daemon\n');
    return lost === 0 && !leftovers ? 0 : 1;
  } finally {
    await world.teardown();
  }
}

process.exitCode = await main();
