/**
 * How zmesh-wg copes with many peers (goal: 10,000 peers configured ≤ 1 s, DESIGN.md).
 *
 *   flock -x /tmp/zmesh-bench.lock npx tsx scripts/bench/userspace-peers.ts [--peers N] [--idle-seconds S]
 *
 * In a throw-away namespace (prefix zwb<pid>) it starts bin/zmesh-wg in the foreground (dist/:
 * `npm run build:ts` first), writes a wg(8) configuration of N peers (each an endpoint and two
 * allowed IPs, keys random, file 0600 in a temp dir) and times, with the real wg(8):
 * `wg setconf` on the fresh device, the same `wg setconf` again (replace_peers with the same
 * peers), `wg show IF dump`, then the daemon's idle CPU (/proc/PID/stat over S seconds, device
 * down, no traffic). Everything it made is removed on exit, failure or Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOCKET_DIR = '/var/run/wireguard';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`${name}: a positive integer\n`);
    process.exit(2);
  }
  return value;
}

const peers = option('--peers', 10_000);
const idleSeconds = option('--idle-seconds', 5);
if (peers > 60_000) {
  process.stderr.write('--peers: at most 60000 (allowed IPs are drawn from 10.0.0.0/8 and fd00::/64)\n');
  process.exit(2);
}

const prefix = `zwb${process.pid}`;
const netns = prefix;
const ifname = `${prefix}`.slice(0, 15);
const workDir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
let daemon: ChildProcess | null = null;
let netnsMade = false;

function run(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

function timed(argv: string[]): { ms: number; stdout: string } {
  const start = process.hrtime.bigint();
  const stdout = run(argv);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, stdout };
}

function cleanup(): void {
  if (daemon?.pid && daemon.exitCode === null) daemon.kill('SIGTERM');
  if (netnsMade) spawnSync('ip', ['netns', 'del', netns]);
  netnsMade = false;
  rmSync(workDir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

/** The configuration file, keys base64 as wg(8) reads them. */
function writeConfig(): string {
  const lines = ['[Interface]', `PrivateKey = ${randomBytes(32).toString('base64')}`, 'ListenPort = 0', ''];
  for (let i = 0; i < peers; i++) {
    const a = (i >> 8) & 0xff;
    const b = i & 0xff;
    lines.push(
      '[Peer]',
      `PublicKey = ${randomBytes(32).toString('base64')}`,
      `Endpoint = 192.0.2.${1 + (i % 250)}:${10000 + (i % 50000)}`,
      `AllowedIPs = 10.${a}.${b}.0/24, fd00::${i.toString(16)}/128`,
      '',
    );
  }
  const file = path.join(workDir, 'peers.conf');
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  return file;
}

/** Resolves once the daemon's UAPI socket exists (it is created after the TUN). */
function socketReady(child: ChildProcess): Promise<void> {
  const socket = path.join(SOCKET_DIR, `${ifname}.sock`);
  return new Promise((resolve, reject) => {
    const watcher = watch(SOCKET_DIR, () => check());
    const timer = setTimeout(() => done(new Error('zmesh-wg did not create its socket within 20 s')), 20_000);
    const onExit = (code: number | null) => done(new Error(`zmesh-wg exited early (${code})`));
    child.once('exit', onExit);
    function done(error?: Error): void {
      watcher.close();
      clearTimeout(timer);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    function check(): void {
      if (existsSync(socket)) done();
    }
    check();
  });
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist/cli/zmesh-wg.js')))
    throw new Error('dist/ lacks zmesh-wg: run npm run build:ts');
  run(['mkdir', '-p', SOCKET_DIR]);
  const config = writeConfig();
  run(['ip', 'netns', 'add', netns]);
  netnsMade = true;
  daemon = spawn('ip', ['netns', 'exec', netns, process.execPath, path.join(ROOT, 'bin/zmesh-wg'), '-f', ifname], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await socketReady(daemon);
  const pid = daemon.pid!; // ip netns exec execs the program: this is zmesh-wg's own PID

  const wg = (...args: string[]) => ['ip', 'netns', 'exec', netns, 'wg', ...args];
  const fresh = timed(wg('setconf', ifname, config));
  const again = timed(wg('setconf', ifname, config));
  const dump = timed(wg('show', ifname, 'dump'));
  const dumped = dump.stdout.trim().split('\n').length - 1;
  if (dumped !== peers) throw new Error(`wg show dump listed ${dumped} peers, expected ${peers}`);

  const hz = Number(run(['getconf', 'CLK_TCK']).trim());
  const before = cpuTicks(pid);
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const idleTicks = cpuTicks(pid) - before;
  const idlePercent = (idleTicks / hz / seconds) * 100;

  const row = (what: string, value: string, goal: string) =>
    `| ${what.padEnd(34)} | ${value.padStart(12)} | ${goal.padEnd(8)} |`;
  console.log(`zmesh-wg, ${peers} peers (endpoint + 2 allowed IPs each), device down, no traffic`);
  console.log(row('measure', 'value', 'goal'));
  console.log(`|${'-'.repeat(36)}|${'-'.repeat(14)}|${'-'.repeat(10)}|`);
  console.log(row('wg setconf, fresh device', `${fresh.ms.toFixed(0)} ms`, '≤ 1000'));
  console.log(row('wg setconf again (same peers)', `${again.ms.toFixed(0)} ms`, '≤ 1000'));
  console.log(row('wg show dump', `${dump.ms.toFixed(0)} ms`, '≤ 500'));
  console.log(row(`idle CPU over ${seconds.toFixed(1)} s (${idleTicks} ticks)`, `${idlePercent.toFixed(1)} %`, '≤ 2'));
}

try {
  await main();
} catch (error) {
  process.stderr.write(`userspace-peers: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  cleanup();
}
