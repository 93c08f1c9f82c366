/**
 * Benchmark of kernel WireGuard configuration (run it where the kernel has WireGuard, e.g.
 * `scripts/kvm/run npx tsx scripts/bench/kernel-wg.ts`): 10,000 peers (each with an endpoint
 * and two allowed IPs; no keepalive, which would start 10,000 handshakes and measure those) configured on an empty device through the addon (setDevice: TS input
 * checks, conversion, split SET_DEVICE) against `wg setconf` of the same configuration (process
 * start, file parsing, its netlink), in the same kernel. Prints the median of several runs and
 * the ratio; the goal is the addon faster than wg(8).
 *
 * Everything happens in one namespace made for the run (zmbench-PID) and removed at the end;
 * the configuration file holding the private key is 0600 in a private temp dir, removed too.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { SecretKey, ready } from '../../src/netdef/index.js';
import { createLink, deleteLink, getDevice, setDevice, wireguardFamilyAvailable, type KernelPeerSet } from '../../src/wg/kernel/index.js';

const PEERS = Number(process.env.PEERS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 5);
const NETNS = `zmbench-${process.pid}`;
const NETNS_PATH = `/run/netns/${NETNS}`;
const IFNAME = 'zmbk0';

/** Where the run is, on stderr (a guest run is slow enough to wonder). */
function progress(what: string): void {
  process.stderr.write(`kernel-wg bench: ${what}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function freshLink(): void {
  try {
    deleteLink(IFNAME, NETNS_PATH);
  } catch {
    // first run: none yet
  }
  createLink(IFNAME, NETNS_PATH);
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
  const privateKey = SecretKey.fromBytes(key);
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
    lines.push('[Peer]', `PublicKey = ${p.publicKey}`, `Endpoint = ${p.endpoint}`, `AllowedIPs = ${p.allowedIps!.join(', ')}`);
  }
  writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
  progress(`${PEERS} peers generated`);
  execFileSync('ip', ['netns', 'add', NETNS]);
  try {
    const addon: number[] = [];
    const wg: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      progress(`run ${run + 1}: addon`);
      freshLink();
      let t0 = performance.now();
      setDevice(NETNS_PATH, IFNAME, { privateKey, listenPort: 41000, replacePeers: true, peers });
      addon.push(performance.now() - t0);
      if (run === 0 && getDevice(NETNS_PATH, IFNAME).peers.length !== PEERS) throw new Error('addon: peer count differs');

      progress(`run ${run + 1}: wg setconf`);
      freshLink();
      t0 = performance.now();
      execFileSync('ip', ['netns', 'exec', NETNS, 'wg', 'setconf', IFNAME, conf], { stdio: ['ignore', 'ignore', 'inherit'] });
      wg.push(performance.now() - t0);
      if (run === 0 && getDevice(NETNS_PATH, IFNAME).peers.length !== PEERS) throw new Error('wg setconf: peer count differs');
    }
    const a = median(addon);
    const w = median(wg);
    console.log(`kernel WireGuard: configure ${PEERS} peers (2 allowed IPs and an endpoint each) on an empty device; median of ${RUNS} runs`);
    console.log('| method                   | median ms | runs (ms)');
    console.log(`| addon setDevice          | ${a.toFixed(1).padStart(9)} | ${addon.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`| ip netns exec wg setconf | ${w.toFixed(1).padStart(9)} | ${wg.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`| ratio wg / addon         | ${(w / a).toFixed(2).padStart(9)} | goal > 1 (addon faster)`);
  } finally {
    try {
      deleteLink(IFNAME, NETNS_PATH);
    } catch {
      // already gone
    }
    execFileSync('ip', ['netns', 'del', NETNS]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
