/**
 * The measurements of the data-plane benchmark, one function each, run between two namespaces of
 * a harness world: iperf3 TCP (n streams) and UDP at full rate, ping RTTs idle and under a TCP
 * load, and the CPU time of given processes (utime + stime of /proc/PID/stat, all threads).
 * Pure parsing (iperf3 JSON, ping lines, percentiles) is separate from running, so each number
 * in the table can be traced to the tool's own output.
 */
import { readFileSync } from 'node:fs';
import type { BackgroundProcess, Namespace } from '../../src/sim/harness/index.js';

/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;
export const IPERF_PORT = 5201;

export interface TcpResult {
  readonly gbps: number;
  readonly retransmits: number;
  readonly bytes: number;
  /** iperf3's own CPU (client + server, user + system, incl. their syscalls' kernel work), seconds. */
  readonly endpointCpuSeconds: number;
}

export interface UdpResult {
  /** What arrived, Gbit/s. */
  readonly receivedGbps: number;
  readonly sentGbps: number;
  readonly lossPercent: number;
}

export interface RttResult {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sent: number;
  readonly received: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
    return (Number(f[11]) + Number(f[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

export function totalCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

interface IperfJson {
  error?: string;
  end?: {
    sum_sent?: { bytes?: number; bits_per_second?: number; retransmits?: number };
    sum_received?: { bytes?: number; bits_per_second?: number };
    sum?: { bits_per_second?: number; lost_percent?: number; bytes?: number };
    cpu_utilization_percent?: { host_total?: number; remote_total?: number };
  };
  start?: { test_start?: { duration?: number } };
}

function parseIperf(stdout: string, what: string): IperfJson {
  let j: IperfJson;
  try {
    j = JSON.parse(stdout) as IperfJson;
  } catch {
    throw new Error(`${what}: iperf3 printed no JSON: ${stdout.slice(0, 300)}`);
  }
  if (j.error) throw new Error(`${what}: iperf3: ${j.error}`);
  return j;
}

export function parseTcp(stdout: string, durationS: number): TcpResult {
  const j = parseIperf(stdout, 'tcp');
  const received = j.end?.sum_received;
  if (!received?.bits_per_second || received.bytes === undefined)
    throw new Error('tcp: iperf3 JSON has no end.sum_received');
  const cpu = j.end?.cpu_utilization_percent;
  return {
    gbps: received.bits_per_second / 1e9,
    retransmits: j.end?.sum_sent?.retransmits ?? 0,
    bytes: received.bytes,
    endpointCpuSeconds: (((cpu?.host_total ?? 0) + (cpu?.remote_total ?? 0)) / 100) * durationS,
  };
}

export function parseUdp(stdout: string): UdpResult {
  const j = parseIperf(stdout, 'udp');
  const sum = j.end?.sum;
  if (sum?.bits_per_second === undefined || sum.lost_percent === undefined)
    throw new Error('udp: iperf3 JSON has no end.sum');
  const sent = sum.bits_per_second / 1e9;
  return { sentGbps: sent, lossPercent: sum.lost_percent, receivedGbps: sent * (1 - sum.lost_percent / 100) };
}

/** RTTs of iputils ping's reply lines ("... time=0.123 ms"). */
export function parsePingTimes(stdout: string): { sent: number; times: number[] } {
  const times = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(stdout)?.[1] ?? times.length);
  return { sent, times };
}

function rtt(stdout: string): RttResult {
  const { sent, times } = parsePingTimes(stdout);
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), sent, received: times.length };
}

/** An iperf3 server bound to `address` in `ns` (one test at a time, as iperf3 serves). */
export async function startIperfServer(ns: Namespace, address: string): Promise<BackgroundProcess> {
  const server = ns.spawn('iperf3', ['-s', '-B', address, '-p', String(IPERF_PORT), '--forceflush']);
  await server.waitForOutput(/Server listening/, { timeoutMs: 10_000 });
  return server;
}

/**
 * Runs an iperf3 client; when the server still finishes the previous test ("busy", which a loaded
 * machine makes common), tries again after a moment, for up to 10 s.
 */
async function iperfClient(client: Namespace, args: string[], durationS: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const r = await client.exec('iperf3', args, { check: false, timeoutMs: durationS * 1000 + 30_000 });
    if (!/server is busy/.test(r.stdout) || attempt >= 40) return r.stdout;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function tcpRun(
  client: Namespace,
  address: string,
  streams: number,
  durationS: number,
): Promise<TcpResult> {
  const stdout = await iperfClient(
    client,
    ['-c', address, '-p', String(IPERF_PORT), '-t', String(durationS), '-P', String(streams), '-J'],
    durationS,
  );
  return parseTcp(stdout, durationS);
}

export async function udpRun(
  client: Namespace,
  address: string,
  payload: number,
  durationS: number,
): Promise<UdpResult> {
  const stdout = await iperfClient(
    client,
    ['-c', address, '-p', String(IPERF_PORT), '-u', '-b', '0', '-l', String(payload), '-t', String(durationS), '-J'],
    durationS,
  );
  return parseUdp(stdout);
}

export async function pingIdle(client: Namespace, address: string, count: number): Promise<RttResult> {
  const r = await client.exec('ping', ['-n', '-c', String(count), '-i', '0.01', '-W', '1', address], {
    check: false,
    timeoutMs: count * 100 + 10_000,
  });
  return rtt(r.stdout);
}

/**
 * Pings while one TCP stream runs: the stream starts first, ping begins when iperf3 reports its
 * first interval (the queue is full by then) and stops a second before the stream does.
 */
export async function pingUnderLoad(
  client: Namespace,
  address: string,
  durationS: number,
): Promise<RttResult & { load: TcpResult }> {
  let load: BackgroundProcess;
  for (let attempt = 0; ; attempt++) {
    load = client.spawn('iperf3', [
      '-c',
      address,
      '-p',
      String(IPERF_PORT),
      '-t',
      String(durationS),
      '--forceflush',
      '-i',
      '1',
    ]);
    try {
      await load.waitForOutput(/\d+\.\d+-\d+\.\d+\s+sec/, { timeoutMs: 15_000 });
      break;
    } catch (error) {
      await load.stop({ graceMs: 500 });
      if (!/server is busy/.test(load.stdout + load.stderr) || attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    const window = Math.max(1, durationS - 2);
    const r = await client.exec('ping', ['-n', '-i', '0.02', '-W', '1', '-w', String(window), address], {
      check: false,
      timeoutMs: window * 1000 + 10_000,
    });
    const status = await load.exited;
    const gbits = [...load.stdout.matchAll(/([\d.]+) Gbits\/sec.*receiver/g)].map((m) => Number(m[1]));
    const mbits = [...load.stdout.matchAll(/([\d.]+) Mbits\/sec.*receiver/g)].map((m) => Number(m[1]) / 1000);
    if (status.exitCode !== 0) throw new Error(`iperf3 load run failed: ${load.stderr.slice(-300)}`);
    return {
      ...rtt(r.stdout),
      load: { gbps: gbits[0] ?? mbits[0] ?? NaN, retransmits: NaN, bytes: NaN, endpointCpuSeconds: NaN },
    };
  } finally {
    await load.stop({ graceMs: 1000 });
  }
}
