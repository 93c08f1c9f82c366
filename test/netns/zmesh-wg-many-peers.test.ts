// A zmesh-wg device with 2,000 peers, configured by the real wg(8): what `wg showconf` reads back
// equals what Debian's wireguard-go reads back from the same file, after a fresh setconf, after
// the same setconf again (replace_peers with the same peers) and after a setconf that removes
// half the peers, moves allowed IPs and changes endpoints. The device is idle throughout (no
// address, no traffic), so this exercises the configuration and UAPI paths at scale.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { World } from '../harness/index.js';
import { startWg, wgWorld, type WgInterface } from './wg-pair.js';

const PEERS = 2_000;

interface Peer {
  publicKey: string;
  endpoint: string;
  allowedIps: string[];
}

function makePeers(count: number): Peer[] {
  return Array.from({ length: count }, (_, i) => ({
    publicKey: randomBytes(32).toString('base64'),
    endpoint: i % 2 === 0 ? `192.0.2.${1 + (i % 250)}:${10_000 + i}` : `[2001:db8::${i.toString(16)}]:${20_000 + i}`,
    allowedIps: [`10.${(i >> 8) & 0xff}.${i & 0xff}.0/24`, `fd00::${i.toString(16)}/128`],
  }));
}

/** A wg(8) configuration file (0600) without a private key: the devices keep the one they have. */
function writeConf(w: World, name: string, peers: readonly Peer[]): string {
  const lines = ['[Interface]', ''];
  for (const p of peers)
    lines.push(
      '[Peer]',
      `PublicKey = ${p.publicKey}`,
      `Endpoint = ${p.endpoint}`,
      `AllowedIPs = ${p.allowedIps.join(', ')}`,
      '',
    );
  const file = join(w.tempDir(), name);
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  return file;
}

/**
 * `wg showconf` without its PrivateKey line (so the text can be compared and printed safely), in a
 * canonical order: wireguard-go lists peers in Go map order and allowed IPs in its trie's, so
 * peers are sorted by public key and each peer's allowed IPs sorted.
 */
async function showconf(wg: WgInterface): Promise<string> {
  const text = (await wg.wg(['showconf', wg.ifname])).stdout;
  const [device, ...peers] = text.split(/^(?=\[Peer\]$)/m);
  const canonicalPeer = (section: string): string =>
    section
      .trim()
      .split('\n')
      .map((line) =>
        line.startsWith('AllowedIPs = ') ? `AllowedIPs = ${line.slice(13).split(', ').sort().join(', ')}` : line,
      )
      .join('\n');
  const deviceLines = (device ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('PrivateKey') && !line.startsWith('ListenPort'));
  return [deviceLines.join('\n'), ...peers.map(canonicalPeer).sort()].join('\n\n');
}

test(`a device with ${PEERS} peers reads back through wg showconf exactly as wireguard-go does, after set, the same set again, and a set replacing half`, async (t) => {
  t.timeout(120_000);
  const w = await wgWorld(t);
  const [nsZ, nsG] = [await w.namespace('z'), await w.namespace('g')];
  const [zmesh, reference] = await Promise.all([
    startWg(w, nsZ, 'wz', 'zmesh-wg'),
    startWg(w, nsG, 'wg', 'wireguard-go'),
  ]);
  const both = async (args: string[]) =>
    Promise.all([
      zmesh.wg([args[0]!, zmesh.ifname, ...args.slice(1)]),
      reference.wg([args[0]!, reference.ifname, ...args.slice(1)]),
    ]);

  const peers = makePeers(PEERS);
  const first = writeConf(w, 'first.conf', peers);
  await both(['addconf', first]);
  const afterFirst = await showconf(zmesh);
  t.is(afterFirst.match(/^\[Peer\]$/gm)?.length, PEERS, 'every peer is listed');
  t.is(afterFirst, await showconf(reference), 'after adding the peers');

  // setconf: replace_peers with the very same peers (wg-quick's `syncconf` path does this too).
  const full = writeConf(w, 'full.conf', peers);
  await both(['setconf', full]);
  t.is(await showconf(zmesh), afterFirst, 'the same setconf again changes nothing visible');

  // Half the peers go; a quarter move one allowed IP to another peer and change endpoint.
  const kept = peers
    .filter((_, i) => i % 2 === 0)
    .map((p, i) => (i % 2 === 0 ? p : { ...p, endpoint: `192.0.2.254:${30_000 + i}` }));
  const moved = kept.map((p, i) =>
    i % 4 === 1 ? { ...p, allowedIps: [...p.allowedIps, kept[i - 1]!.allowedIps[0]!] } : p,
  );
  for (let i = 1; i < moved.length; i += 4)
    moved[i - 1] = { ...moved[i - 1]!, allowedIps: moved[i - 1]!.allowedIps.slice(1) };
  const half = writeConf(w, 'half.conf', moved);
  await both(['setconf', half]);
  const afterHalf = await showconf(zmesh);
  t.is(afterHalf.match(/^\[Peer\]$/gm)?.length, PEERS / 2);
  t.is(afterHalf, await showconf(reference), 'after replacing with half the peers, allowed IPs moved');
});
