/**
 * Memory and create-time benchmark of `zmesh wgd` (goal: 100 devices ≤ 150 MB RSS).
 *
 *   npx tsx scripts/bench/wgd.ts [--devices N] [--tsx]
 *
 * Builds a throw-away world with the netns harness: one "node" namespace running wgd and N NR
 * namespaces, one device each (TUN in the NR, UDP in the node). Prints wgd's memory from
 * /proc/PID/status and smaps_rollup at four points — started, N idle devices, each configured
 * with a key and one peer, and after traffic (devices paired over the node's loopback, one ping
 * through every pair, so every data-plane thread has touched its buffers) — then tears down.
 * wgd runs from dist/ (bin/zmesh; `npm run build:ts` first) unless --tsx or dist lacks wgd, in
 * which case it runs the sources under tsx (which itself costs memory: the figure says which).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { World, ping, runCommand, systemTool, type Namespace } from '../../src/sim/harness/index.js';
import { DH_GENERATE, ready as cryptoReady } from '../../src/wg/crypto.js';
import { UapiClient } from '../../src/wg/uapi/client.js';
import { WgdClient } from '../../src/wg/wgd/client.js';
import type { DeviceInfo } from '../../src/wg/wgd/protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOAL_MB = 150;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const devices = Number(option('--devices') ?? 100);
if (!Number.isInteger(devices) || devices < 2 || devices > 200 || devices % 2 !== 0) {
  process.stderr.write('--devices: an even number from 2 to 200\n');
  process.exit(2);
}
const useTsx = process.argv.includes('--tsx') || !existsSync(path.join(ROOT, 'dist/cli/wgd.js'));

interface Memory {
  rssMb: number;
  hwmMb: number;
  anonMb: number;
  fileMb: number;
  vmSizeMb: number;
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
    threads: kb('Threads'),
  };
}

/** CPU time (user + system) the process used over `ms`, as a share of one core. */
async function cpuShare(pid: number, ms: number): Promise<number> {
  const ticks = (): number => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  };
  const before = ticks();
  await new Promise((resolve) => setTimeout(resolve, ms)); // measuring over a fixed window is the point
  return (ticks() - before) / 100 / (ms / 1000); // USER_HZ is 100 on Linux
}

const rows: [string, Memory][] = [];
function record(label: string, pid: number): void {
  const m = memoryOf(pid);
  rows.push([label, m]);
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
    const wgd = node.spawn('node', [...program, 'wgd', '--control', control, '--uapi-dir', uapiDir]);
    await wgd.waitForOutput(/zmesh wgd: ready/, { timeoutMs: 30_000 });
    const client = new WgdClient(control);
    record('started', wgd.pid);

    const created: DeviceInfo[] = [];
    const createStart = performance.now();
    for (let i = 0; i < devices; i++)
      created.push((await client.create({ name: world.ifname(`w${i}`), netns: nrs[i]!.path })).device);
    const createMs = performance.now() - createStart;
    record(`${devices} devices, idle`, wgd.pid);

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
    record(`${devices} devices, configured`, wgd.pid);

    let lost = 0;
    for (let k = 0; k < devices / 2; k++) {
      const r = await ping(nrs[2 * k]!, `10.200.${k}.2`, { count: 1, timeoutMs: 5000 });
      if (r.loss > 0) lost++;
    }
    record(`${devices} devices, after a ping through each pair`, wgd.pid);
    const listed = await client.list();
    const idleCpu = await cpuShare(wgd.pid, 5000);

    process.stdout.write(
      `\nzmesh wgd, ${devices} devices (${useTsx ? 'sources under tsx' : 'dist/ via bin/zmesh'}), Node ${process.version}\n`,
    );
    process.stdout.write(
      `create: ${devices} devices in ${createMs.toFixed(0)} ms (${(createMs / devices).toFixed(1)} ms each); list reports ${listed.length}; pairs without reply: ${lost} of ${devices / 2}\n\n`,
    );
    process.stdout.write('point                                      RSS MB  anon MB  file MB  peak MB  threads\n');
    for (const [label, m] of rows) {
      process.stdout.write(
        `${label.padEnd(42)} ${String(m.rssMb).padStart(6)} ${String(m.anonMb).padStart(8)} ${String(m.fileMb).padStart(8)} ${String(m.hwmMb).padStart(8)} ${String(m.threads).padStart(8)}\n`,
      );
    }
    const base = rows[0]![1].rssMb;
    const last = rows.at(-1)![1];
    process.stdout.write(
      `\nidle CPU with ${devices} configured devices: ${(idleCpu * 100).toFixed(1)}% of one core (5 s)\n`,
    );
    process.stdout.write(
      `per device: ${((last.rssMb - base) / devices).toFixed(2)} MB RSS; goal ${devices === 100 ? '' : '(for 100) '}≤ ${GOAL_MB} MB: ${last.hwmMb <= GOAL_MB ? 'met' : 'NOT met'} (peak ${last.hwmMb} MB)\n`,
    );

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
