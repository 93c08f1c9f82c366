/**
 * Benchmark of kernel WireGuard configuration (run it where the kernel has WireGuard, e.g.
 * `scripts/kvm/run npx tsx scripts/bench/kernel-wg.ts`): 10,000 peers (each with an endpoint
 * and two allowed IPs; no keepalive, which would start 10,000 handshakes and measure those)
 * configured on an empty device through the addon against `wg setconf` of the same
 * configuration (process start, file parsing, its netlink), in the same kernel.
 *
 * The addon is timed in its parts: the TS packing (toRawDeviceSet: shape checks, the peers
 * packed into one batch), the addon's parsing of the batch (every key, endpoint and prefix
 * checked, on every CPU), the encoding, the time inside sendmsg() (the kernel applies each
 * message there) and the wait for acknowledgements — with setDevice's defaults (32 KiB
 * messages) and with 8 KiB messages (the size before). wg(8)'s messages are counted and its
 * time in sendmsg() measured once with strace -T (an untimed run). The order of the methods
 * rotates from run to run, so that none always runs first; medians of RUNS runs, and the ratios.
 *
 * Most of either tool's time is the kernel's (one X25519 per new peer), the same work for both,
 * and on a shared machine it varies by ±10% from run to run. So each tool's own part is also
 * measured alone: the same configuration sent to a device that does not exist, which costs
 * everything up to the kernel's refusal of the first message (for wg(8): `ip netns exec`,
 * process start, reading and parsing the file; for the addon: packing, parsing, one message).
 *
 * Each configuration goes to a fresh device in a fresh namespace (zmbench-PID-N), all removed at
 * the end: removing a device with 10,000 peers costs the kernel one RCU grace period per peer
 * (netif_napi_del → synchronize_net), minutes under emulation, and is not what is measured. The
 * configuration file holding the private key is 0600 in a private temp dir, removed too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { PrivateKey, ready } from '../../src/netdef/index.js';
import {
  KernelWgError,
  createLink,
  getDevice,
  setDevice,
  wireguardFamilyAvailable,
  type KernelPeerSet,
} from '../../src/nr/wireguard/kernel/index.js';
import { toRawDeviceSet } from '../../src/nr/wireguard/kernel/device.js';
import { kernelWgNative, type RawSetStats } from '../../src/nr/wireguard/kernel/native.js';

const PEERS = Number(process.env.PEERS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 5);
const IFNAME = 'zmbk0';
/** A name no device has: the kernel refuses the first message with ENODEV. */
const MISSING = 'zmbk-none';
const namespaces: string[] = [];
let netns = '';
let netnsPath = '';

/** Where the run is, on stderr (a guest run is slow enough to wonder). */
function progress(what: string): void {
  process.stderr.write(`kernel-wg bench: ${what}\n`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A new empty device in a new namespace (see the top comment for why nothing is deleted yet). */
function freshLink(): void {
  netns = `zmbench-${process.pid}-${namespaces.length}`;
  execFileSync('ip', ['netns', 'add', netns]);
  namespaces.push(netns);
  netnsPath = `/run/netns/${netns}`;
  createLink(IFNAME, netnsPath);
}

interface Variant {
  readonly label: string;
  /** Undefined: setDevice's defaults. */
  readonly maxMessage?: number;
}

interface AddonRun {
  totalMs: number;
  tsMs: number;
  stats: RawSetStats;
}

/** setDevice's two halves (device.ts's packing, then the addon), timed apart. */
function addonRun(privateKey: PrivateKey, peers: readonly KernelPeerSet[], variant: Variant): AddonRun {
  const t0 = performance.now();
  const secrets: Uint8Array[] = [];
  const raw = toRawDeviceSet(IFNAME, { privateKey, listenPort: 41000, replacePeers: true, peers }, secrets);
  const t1 = performance.now();
  try {
    const stats = kernelWgNative().wgSetDevice(
      netnsPath,
      raw,
      variant.maxMessage === undefined ? {} : { maxMessage: variant.maxMessage },
    );
    return { totalMs: performance.now() - t0, tsMs: t1 - t0, stats };
  } finally {
    for (const s of secrets) s.fill(0);
  }
}

function wgRun(conf: string): number {
  const t0 = performance.now();
  execFileSync('ip', ['netns', 'exec', netns, 'wg', 'setconf', IFNAME, conf], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return performance.now() - t0;
}

/** The addon's own part: setDevice (packing, parsing, one message) against a missing device. */
function addonAloneRun(privateKey: PrivateKey, peers: readonly KernelPeerSet[]): number {
  const t0 = performance.now();
  try {
    setDevice(netnsPath, MISSING, { privateKey, listenPort: 41000, replacePeers: true, peers });
  } catch (err) {
    if (!(err instanceof KernelWgError) || err.code !== 'ENODEV') throw err;
    return performance.now() - t0;
  }
  throw new Error('a device that does not exist was configured');
}

/** wg(8)'s own part: ip netns exec, process start, parsing the file, one message refused. */
function wgAloneRun(conf: string): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', netns, 'wg', 'setconf', MISSING, conf], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status === 0) throw new Error('wg setconf configured a device that does not exist');
  return ms;
}

interface Traced {
  messages: number;
  bytes: number;
  maxBytes: number;
  sendMs: number;
}

/** wg(8)'s netlink requests for one setconf: count, sizes and time in sendmsg (strace -T), or null without strace. */
function straceWg(conf: string, dir: string): Traced | null {
  const log = join(dir, 'strace.log');
  try {
    execFileSync(
      'ip',
      ['netns', 'exec', netns, 'strace', '-T', '-e', 'trace=sendmsg,sendto', '-o', log, 'wg', 'setconf', IFNAME, conf],
      { stdio: 'ignore' },
    );
  } catch {
    return null;
  }
  const traced: Traced = { messages: 0, bytes: 0, maxBytes: 0, sendMs: 0 };
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    // sendto(3, [{nlmsg_len=4092, ...}, ...], 4092, 0, {sa_family=AF_NETLINK, ...}, 12) = 4092 <0.001234>
    const m = /^send(?:to|msg)\(.* = (\d+) <([\d.]+)>$/.exec(line);
    if (!m || !line.includes('AF_NETLINK')) continue;
    const size = Number(m[1]);
    traced.messages++;
    traced.bytes += size;
    traced.maxBytes = Math.max(traced.maxBytes, size);
    traced.sendMs += Number(m[2]) * 1000;
  }
  rmSync(log, { force: true });
  return traced;
}

interface Alone {
  readonly addon: number[];
  readonly wg: number[];
}

function table(
  variants: readonly Variant[],
  addon: ReadonlyMap<Variant, AddonRun[]>,
  wg: readonly number[],
  traced: Traced | null,
  alone: Alone,
): void {
  const cell = (x: number): string => x.toFixed(1).padStart(8);
  const med = (xs: readonly AddonRun[], f: (r: AddonRun) => number): string => cell(median(xs.map(f)));
  console.log(
    `kernel WireGuard: configure ${PEERS} peers (2 allowed IPs and an endpoint each) on an empty device; medians of ${RUNS} runs, order rotated`,
  );
  console.log(
    `| ${'method'.padEnd(26)} | total ms |  pack ms | parse ms |  enc. ms |  sendmsg |  acks ms |  msgs | runs (ms)`,
  );
  for (const v of variants) {
    const xs = addon.get(v) ?? [];
    const runs = xs.map((r) => r.totalMs.toFixed(0)).join(' ');
    console.log(
      `| ${v.label.padEnd(26)} | ${med(xs, (r) => r.totalMs)} | ${med(xs, (r) => r.tsMs)} | ${med(xs, (r) => r.stats.convertMs)} | ${med(xs, (r) => r.stats.encodeMs)} | ${med(xs, (r) => r.stats.sendMs)} | ${med(xs, (r) => r.stats.ackMs)} | ${String(xs[0]?.stats.messages ?? 0).padStart(5)} | ${runs}`,
    );
  }
  const w = median(wg);
  const blank = ' '.repeat(8);
  console.log(
    `| ${'ip netns exec wg setconf'.padEnd(26)} | ${cell(w)} | ${blank} | ${blank} | ${blank} | ${traced ? cell(traced.sendMs) : '       ?'} | ${blank} | ${String(traced?.messages ?? '?').padStart(5)} | ${wg.map((x) => x.toFixed(0)).join(' ')}`,
  );
  for (const v of variants) {
    const xs = addon.get(v) ?? [];
    const a = median(xs.map((r) => r.totalMs));
    // Run k's two measurements are seconds apart, so their ratio is less swayed by the host's
    // load drifting over the minutes of the whole benchmark than the ratio of the medians.
    const paired = median(xs.map((r, k) => wg[k]! / r.totalMs));
    console.log(
      `ratio wg / ${v.label}: ${(w / a).toFixed(2)} (addon ${(100 * (1 - a / w)).toFixed(1)}% faster; goal > 1); median of the per-run ratios ${paired.toFixed(2)}`,
    );
  }
  const first = addon.get(variants[0]!)?.[0];
  if (first)
    console.log(
      `${variants[0]!.label}: ${first.stats.messages} messages, ${first.stats.bytes} bytes; longest sendmsg ${first.stats.maxSendMs.toFixed(1)} ms`,
    );
  if (traced)
    console.log(
      `wg(8) (strace -T, untimed run): ${traced.messages} messages, ${traced.bytes} bytes, largest ${traced.maxBytes}; time in sendmsg ${traced.sendMs.toFixed(1)} ms`,
    );
  const list = (xs: readonly number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(
    `each tool's own part (the same configuration to a missing device, medians of ${alone.wg.length}): addon ${median(alone.addon).toFixed(1)} ms (${list(alone.addon)}), ip netns exec wg setconf ${median(alone.wg).toFixed(1)} ms (${list(alone.wg)})`,
  );
}

async function main(): Promise<void> {
  await ready();
  if (!wireguardFamilyAvailable(null)) {
    console.log('kernel-wg bench skipped: this kernel has no WireGuard (run it through scripts/kvm/run)');
    return;
  }
  const key = randomBytes(32);
  key[0]! &= 248;
  key[31] = (key[31]! & 127) | 64;
  const privateKey = PrivateKey.fromBytes(key);
  key.fill(0);
  const peers: KernelPeerSet[] = Array.from({ length: PEERS }, (_, i) => ({
    publicKey: randomBytes(32).toString('base64'),
    endpoint: `198.51.${(i >> 8) & 255}.${i & 255}:${20000 + (i % 1000)}`,
    allowedIps: [`10.${i >> 8}.${i & 255}.0/24`, `100.64.${i >> 8}.${i & 255}/32`],
  }));
  const dir = mkdtempSync(join(tmpdir(), 'zmbench-'));
  const conf = join(dir, 'wg.conf');
  const lines = ['[Interface]', `PrivateKey = ${privateKey.revealBase64()}`, 'ListenPort = 41000'];
  for (const p of peers) {
    lines.push(
      '[Peer]',
      `PublicKey = ${p.publicKey}`,
      `Endpoint = ${p.endpoint}`,
      `AllowedIPs = ${p.allowedIps!.join(', ')}`,
    );
  }
  writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
  progress(`${PEERS} peers generated`);
  try {
    const variants: Variant[] = [
      { label: 'addon (setDevice, 32 KiB)' },
      { label: 'addon, 8 KiB messages', maxMessage: kernelWgNative().wgMessageMax },
    ];
    const addon = new Map<Variant, AddonRun[]>(variants.map((v) => [v, []]));
    const wg: number[] = [];
    const methods: Array<Variant | 'wg'> = [...variants, 'wg'];
    // One untimed pass of each first: JIT, page cache and the kernel's slabs warm for all.
    freshLink();
    addonRun(privateKey, peers, variants[0]!);
    freshLink();
    wgRun(conf);
    for (let run = 0; run < RUNS; run++) {
      for (let k = 0; k < methods.length; k++) {
        const method = methods[(run + k) % methods.length]!;
        const label = method === 'wg' ? 'wg setconf' : method.label;
        progress(`run ${run + 1}: ${label}`);
        freshLink();
        if (method === 'wg') wg.push(wgRun(conf));
        else addon.get(method)!.push(addonRun(privateKey, peers, method));
        if (run === 0 && getDevice(netnsPath, IFNAME).peers.length !== PEERS)
          throw new Error(`${label}: peer count differs`);
      }
    }
    const alone: Alone = { addon: [], wg: [] };
    for (let run = 0; run < RUNS; run++) {
      progress(`run ${run + 1}: each tool's own part`);
      if (run % 2) alone.wg.push(wgAloneRun(conf));
      alone.addon.push(addonAloneRun(privateKey, peers));
      if (!(run % 2)) alone.wg.push(wgAloneRun(conf));
    }
    freshLink();
    table(variants, addon, wg, straceWg(conf, dir), alone);
  } finally {
    // The kernel destroys the devices in the background, after this process has gone.
    for (const name of namespaces) execFileSync('ip', ['netns', 'del', name]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
