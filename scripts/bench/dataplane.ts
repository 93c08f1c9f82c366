/**
 * Data-plane benchmark: zmesh-wg against Debian's wireguard-go and the raw veth, in one run, on
 * the same two namespaces and the same inner MTU (1420).
 *
 *   npm run bench:dataplane -- [--duration S] [--repetitions N] [--quick] [--only veth,wireguard-go,zmesh-wg]
 *
 * World (harness, per-run prefix, torn down even on failure): namespaces A and B joined by the
 * underlay veth ua↔ub (192.0.2.1/.2, MTU 1500) that the tunnels run over, and a second veth
 * ra↔rb with MTU 1420 (10.98.0.1/.2) for the raw baseline. Each WireGuard implementation runs as
 * its own foreground daemon at both ends (`-f IFNAME`, configured with wg(8)), one at a time.
 *
 * For each target: iperf3 TCP with 1 and 4 streams (--duration s each, --repetitions times,
 * median), iperf3 UDP at full rate (-b 0, 1392-byte payloads: one inner packet each) with its
 * loss, ping RTT p50/p99 idle (200 pings, 10 ms apart) and under load (ping every 20 ms during a
 * 1-stream TCP run), and CPU seconds per GB moved in the 1-stream runs: the two daemons'
 * user+system time (all threads, /proc/PID/stat), and iperf3's own (which includes the kernel
 * work done in its syscalls). zmesh-wg runs from dist/ (`npm run build:ts` first).
 * Prints one table with the ratios zmesh/wireguard-go and zmesh/veth and writes the figures as
 * JSON to bench/results/dataplane-<time>.json.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  World,
  interceptNextSignal,
  ping,
  waitFor,
  type BackgroundProcess,
  type Namespace,
} from '../../src/sim/harness/index.js';
import {
  median,
  pingIdle,
  pingUnderLoad,
  startIperfServer,
  tcpRun,
  totalCpuSeconds,
  udpRun,
  type RttResult,
  type TcpResult,
  type UdpResult,
} from './dataplane-measure.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ZMESH_WG = path.join(ROOT, 'bin/zmesh-wg');
const WIREGUARD_GO = '/usr/bin/wireguard-go';
const SOCKET_DIR = '/var/run/wireguard';
const INNER_MTU = 1420;
/** One inner packet per UDP datagram: MTU − IPv4 header − UDP header. */
const UDP_PAYLOAD = INNER_MTU - 20 - 8;
const UNDERLAY = { a: '192.0.2.1', b: '192.0.2.2' };
const RAW = { a: '10.98.0.1', b: '10.98.0.2' };

type TargetName = 'veth' | 'wireguard-go' | 'zmesh-wg';
const ALL_TARGETS: readonly TargetName[] = ['veth', 'wireguard-go', 'zmesh-wg'];

interface Options {
  durationS: number;
  repetitions: number;
  targets: TargetName[];
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: bench:dataplane [--duration S] [--repetitions N] [--quick] [--only veth,wireguard-go,zmesh-wg]\n`,
  );
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { durationS: 10, repetitions: 3, targets: [...ALL_TARGETS] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === '--quick') {
      o.durationS = 4;
      o.repetitions = 1;
    } else if (arg === '--duration') {
      o.durationS = Number(value());
      if (!Number.isInteger(o.durationS) || o.durationS < 3 || o.durationS > 60)
        usage('--duration: whole seconds, 3..60');
    } else if (arg === '--repetitions') {
      o.repetitions = Number(value());
      if (!Number.isInteger(o.repetitions) || o.repetitions < 1 || o.repetitions > 9) usage('--repetitions: 1..9');
    } else if (arg === '--only') {
      const names = value().split(',');
      const bad = names.find((n) => !ALL_TARGETS.includes(n as TargetName));
      if (bad !== undefined) usage(`--only: unknown target '${bad}'`);
      o.targets = ALL_TARGETS.filter((t) => names.includes(t));
    } else {
      usage(`unknown argument '${arg}'`);
    }
  }
  return o;
}

/** A target under test: where the server listens, and the daemons whose CPU counts. */
interface Target {
  readonly name: TargetName;
  readonly address: string;
  readonly daemons: readonly number[];
  stop(): Promise<void>;
}

interface TargetResult {
  tcp1: { gbps: number; retransmits: number; runs: TcpResult[] };
  tcp4: { gbps: number; retransmits: number; runs: TcpResult[] };
  udp: UdpResult;
  pingIdle: RttResult;
  pingLoaded: RttResult & { loadGbps: number };
  daemonCpuSecondsPerGB: number;
  endpointCpuSecondsPerGB: number;
}

let keyCounter = 0;

/** An X25519 key pair; the private key goes only to a 0600 file that wg(8) reads. */
function keyFile(w: World): { file: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  const x = publicKey.export({ format: 'jwk' }).x;
  if (!d || !x) throw new Error('x25519 key export returned no key material');
  const file = path.join(w.tempDir(), `key${keyCounter++}`);
  writeFileSync(file, Buffer.from(d, 'base64url').toString('base64') + '\n', { mode: 0o600 });
  return { file, publicKey: Buffer.from(x, 'base64url').toString('base64') };
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

async function startDaemon(
  _w: World,
  ns: Namespace,
  ifname: string,
  impl: 'wireguard-go' | 'zmesh-wg',
): Promise<BackgroundProcess> {
  const proc = ns.spawn(impl === 'zmesh-wg' ? ZMESH_WG : WIREGUARD_GO, ['-f', ifname], {
    env: { LOG_LEVEL: 'error', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
  });
  await waitFor(
    () => {
      if (!proc.running) throw new Error(`${impl} exited: ${proc.stderr.slice(-300)}`);
      return isSocket(path.join(SOCKET_DIR, `${ifname}.sock`));
    },
    { what: `${impl} ${ifname} to create its UAPI socket`, timeoutMs: 15_000 },
  );
  return proc;
}

/** Both ends of one WireGuard implementation over the underlay, inner 10.9x.0.1/.2. */
async function wireguardTarget(
  w: World,
  a: Namespace,
  b: Namespace,
  impl: 'wireguard-go' | 'zmesh-wg',
): Promise<Target> {
  const tag = impl === 'zmesh-wg' ? 'z' : 'g';
  const subnet = impl === 'zmesh-wg' ? '10.92.0' : '10.91.0';
  const port = impl === 'zmesh-wg' ? 51822 : 51821;
  const ends = [
    { ns: a, ifname: w.ifname(`${tag}a`), inner: `${subnet}.1`, underlay: UNDERLAY.a, key: keyFile(w) },
    { ns: b, ifname: w.ifname(`${tag}b`), inner: `${subnet}.2`, underlay: UNDERLAY.b, key: keyFile(w) },
  ] as const;
  const procs = await Promise.all(ends.map((e) => startDaemon(w, e.ns, e.ifname, impl)));
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop({ graceMs: 2000 })));
    for (const e of ends) rmSync(path.join(SOCKET_DIR, `${e.ifname}.sock`), { force: true });
  };
  try {
    for (const [i, e] of ends.entries()) {
      const other = ends[1 - i]!;
      await e.ns.exec('wg', [
        'set',
        e.ifname,
        'private-key',
        e.key.file,
        'listen-port',
        String(port),
        'peer',
        other.key.publicKey,
        'endpoint',
        `${other.underlay}:${port}`,
        'allowed-ips',
        `${other.inner}/32`,
      ]);
      await e.ns.ip(['addr', 'add', `${e.inner}/24`, 'dev', e.ifname]);
      await e.ns.ip(['link', 'set', e.ifname, 'mtu', String(INNER_MTU), 'up']);
    }
    await waitFor(async () => (await ping(a, ends[1].inner, { count: 1, timeoutMs: 1000 })).received === 1, {
      what: `${impl} tunnel to answer a ping`,
      timeoutMs: 15_000,
      intervalMs: 0,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: impl, address: ends[1].inner, daemons: procs.map((p) => p.pid), stop };
}

async function measure(
  a: Namespace,
  b: Namespace,
  target: Target,
  o: Options,
  log: (m: string) => void,
): Promise<TargetResult> {
  const server = await startIperfServer(b, target.address);
  try {
    const tcp = async (streams: number): Promise<{ runs: TcpResult[]; daemonCpu: number }> => {
      const runs: TcpResult[] = [];
      let daemonCpu = 0;
      for (let r = 0; r < o.repetitions; r++) {
        const before = totalCpuSeconds(target.daemons);
        runs.push(await tcpRun(a, target.address, streams, o.durationS));
        daemonCpu += totalCpuSeconds(target.daemons) - before;
        log(
          `  ${target.name} tcp×${streams} #${r + 1}: ${runs.at(-1)!.gbps.toFixed(2)} Gbit/s, ${runs.at(-1)!.retransmits} retransmits`,
        );
      }
      return { runs, daemonCpu };
    };
    const t1 = await tcp(1);
    const t4 = await tcp(4);
    const udp = await udpRun(a, target.address, UDP_PAYLOAD, o.durationS);
    log(`  ${target.name} udp: ${udp.receivedGbps.toFixed(2)} Gbit/s received, ${udp.lossPercent.toFixed(1)}% lost`);
    const idle = await pingIdle(a, target.address, 200);
    const loaded = await pingUnderLoad(a, target.address, o.durationS);
    log(`  ${target.name} ping p50 idle ${idle.p50Ms} ms, under load ${loaded.p50Ms} ms`);
    const gb = t1.runs.reduce((s, r) => s + r.bytes, 0) / 1e9;
    const endpointCpu = t1.runs.reduce((s, r) => s + r.endpointCpuSeconds, 0);
    return {
      tcp1: {
        gbps: median(t1.runs.map((r) => r.gbps)),
        retransmits: median(t1.runs.map((r) => r.retransmits)),
        runs: t1.runs,
      },
      tcp4: {
        gbps: median(t4.runs.map((r) => r.gbps)),
        retransmits: median(t4.runs.map((r) => r.retransmits)),
        runs: t4.runs,
      },
      udp,
      pingIdle: idle,
      pingLoaded: {
        p50Ms: loaded.p50Ms,
        p99Ms: loaded.p99Ms,
        sent: loaded.sent,
        received: loaded.received,
        loadGbps: loaded.load.gbps,
      },
      daemonCpuSecondsPerGB: gb > 0 ? t1.daemonCpu / gb : NaN,
      endpointCpuSecondsPerGB: gb > 0 ? endpointCpu / gb : NaN,
    };
  } finally {
    await server.stop({ graceMs: 1000 });
  }
}

function fmt(v: number | undefined, digits = 2): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function ratio(x: number | undefined, y: number | undefined): string {
  return x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0
    ? '—'
    : `${(x / y).toFixed(2)}×`;
}

function table(results: Partial<Record<TargetName, TargetResult>>): string {
  const { veth, 'wireguard-go': go, 'zmesh-wg': z } = results;
  type Row = [string, (r: TargetResult) => number, number];
  const rows: Row[] = [
    ['TCP 1 stream, Gbit/s', (r) => r.tcp1.gbps, 2],
    ['TCP 1 stream, retransmits', (r) => r.tcp1.retransmits, 0],
    ['TCP 4 streams, Gbit/s', (r) => r.tcp4.gbps, 2],
    ['TCP 4 streams, retransmits', (r) => r.tcp4.retransmits, 0],
    ['UDP full rate, received Gbit/s', (r) => r.udp.receivedGbps, 2],
    ['UDP full rate, loss %', (r) => r.udp.lossPercent, 1],
    ['ping idle p50, ms', (r) => r.pingIdle.p50Ms, 3],
    ['ping idle p99, ms', (r) => r.pingIdle.p99Ms, 3],
    ['ping under load p50, ms', (r) => r.pingLoaded.p50Ms, 3],
    ['ping under load p99, ms', (r) => r.pingLoaded.p99Ms, 3],
    ['daemons CPU s/GB (TCP 1)', (r) => r.daemonCpuSecondsPerGB, 2],
    ['iperf3 CPU s/GB (TCP 1)', (r) => r.endpointCpuSecondsPerGB, 2],
  ];
  const header = ['metric', 'veth', 'wireguard-go', 'zmesh-wg', 'zmesh/wg-go', 'zmesh/veth'];
  const lines = rows.map(([label, get, digits]) => {
    const v = (r: TargetResult | undefined) => (r ? get(r) : undefined);
    return [
      label,
      fmt(v(veth), digits),
      fmt(v(go), digits),
      fmt(v(z), digits),
      ratio(v(z), v(go)),
      ratio(v(z), v(veth)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: readonly string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  return [
    line(header),
    '|' + widths.map((wd, i) => (i === 0 ? '-'.repeat(wd + 2) : '-'.repeat(wd + 1) + ':')).join('|') + '|',
    ...lines.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.targets.includes('zmesh-wg') && !existsSync(path.join(ROOT, 'dist/cli/zmesh-wg.js')))
    usage('dist/ is missing: run npm run build:ts first');
  const log = (m: string): void => void process.stderr.write(m + '\n');
  const w = await World.create();
  const releaseSignal = interceptNextSignal(() => void w.teardown().finally(() => process.exit(130)));
  const results: Partial<Record<TargetName, TargetResult>> = {};
  const started = new Date();
  try {
    const a = await w.namespace('a');
    const b = await w.namespace('b');
    await w.link(a, 'ua', b, 'ub', { addressA: `${UNDERLAY.a}/24`, addressB: `${UNDERLAY.b}/24` });
    await w.link(a, 'ra', b, 'rb', { addressA: `${RAW.a}/24`, addressB: `${RAW.b}/24`, mtu: INNER_MTU });
    log(`world ${w.prefix}: ${o.durationS} s runs, ${o.repetitions} repetitions, targets ${o.targets.join(', ')}`);
    for (const name of o.targets) {
      const target: Target =
        name === 'veth'
          ? { name, address: RAW.b, daemons: [], stop: async () => {} }
          : await wireguardTarget(w, a, b, name);
      try {
        log(`${name}:`);
        results[name] = await measure(a, b, target, o, log);
      } finally {
        await target.stop();
      }
    }
  } finally {
    releaseSignal();
    await w.teardown();
  }
  const text = table(results);
  process.stdout.write(
    `\nnpm run bench:dataplane -- ${process.argv.slice(2).join(' ')}\n${started.toISOString()}, ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n\n${text}\n`,
  );
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `dataplane-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  writeFileSync(
    file,
    JSON.stringify(
      {
        started: started.toISOString(),
        kernel,
        cores: cpus().length,
        loadavgAtEnd: loadavg(),
        options: o,
        innerMtu: INNER_MTU,
        results,
        table: text,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`\nwritten: ${path.relative(ROOT, file)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:dataplane failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
