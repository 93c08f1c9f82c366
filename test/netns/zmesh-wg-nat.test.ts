// zmesh-wg with a peer behind a NAT namespace: the peer's public address and port change in the
// middle of a transfer (its NAT's mapping is replaced) and zmesh-wg follows it; and a zmesh-wg
// behind a NAT with a 2 s conntrack UDP timeout stays reachable from the public side only as long
// as persistent keepalive refreshes the mapping.
//
//   pub (198.51.100.10) ── wan │ nat │ lan ── home (10.0.0.2, default via 10.0.0.1)
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ping, tcpTransfer, waitFor, type Namespace, type World } from '../harness/index.js';
import {
  endpointText,
  pingUntilAnswered,
  startWg,
  wgWorld,
  type WgImplementation,
  type WgInterface,
} from './wg-pair.js';

const PUB = '198.51.100.10';
const NAT_WAN = '198.51.100.1';
const NAT_WAN_AFTER = '198.51.100.3';
const HOME = '10.0.0.2';
const INNER_PUB = '10.99.0.1';
const INNER_HOME = '10.99.0.2';

interface NatWorld {
  pub: Namespace;
  nat: Namespace;
  home: Namespace;
}

/** The three namespaces; `nat` only routes here, its NAT rules are the caller's. */
async function natTopology(w: World, nat: Namespace): Promise<NatWorld> {
  const pub = await w.namespace('pub');
  const home = await w.namespace('home');
  await w.link(pub, 'eth0', nat, 'wan', { addressA: `${PUB}/24`, addressB: `${NAT_WAN}/24` });
  await w.link(home, 'eth0', nat, 'lan', { addressA: `${HOME}/24`, addressB: '10.0.0.1/24' });
  await home.addRoute('default', { via: '10.0.0.1' });
  return { pub, nat, home };
}

/**
 * A WireGuard interface in `pub` and one in `home`; only home knows pub's endpoint (pub learns
 * home's from its packets, as a public node learns a hidden one's).
 */
async function tunnel(
  w: World,
  n: NatWorld,
  impl: { pub: WgImplementation; home: WgImplementation },
  homeKeepalive?: number,
): Promise<{ pub: WgInterface; home: WgInterface }> {
  const [pub, home] = await Promise.all([
    startWg(w, n.pub, 'wp', impl.pub, { address: `${INNER_PUB}/24` }),
    startWg(w, n.home, 'wh', impl.home, { address: `${INNER_HOME}/24` }),
  ]);
  await pub.setPeer(home.publicKey, { allowedIps: [`${INNER_HOME}/32`] });
  await home.setPeer(pub.publicKey, {
    allowedIps: [`${INNER_PUB}/32`],
    endpoint: endpointText(PUB, await pub.listenPort()),
    ...(homeKeepalive === undefined ? {} : { persistentKeepalive: homeKeepalive }),
  });
  return { pub, home };
}

/** The UDP conntrack entries in `nat` of flows from home to pub. */
async function natFlows(nat: Namespace): Promise<string[]> {
  const r = await nat.exec('conntrack', ['-L', '-p', 'udp'], { check: false });
  return r.stdout.split('\n').filter((l) => l.includes(`src=${HOME} dst=${PUB}`));
}

test("when the peer's NAT maps it to a new address and port mid-transfer, the transfer completes intact and zmesh-wg shows the new endpoint", async (t) => {
  const w = await wgWorld(t);
  const nat = await w.router('nat');
  const n = await natTopology(w, nat);
  await nat.ip(['addr', 'add', `${NAT_WAN_AFTER}/24`, 'dev', 'wan']);
  // Explicit SNAT targets, so the old and new public endpoint are known exactly.
  const rules = (to: string) =>
    [
      'table inet roam {',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    oifname "wan" meta l4proto udp snat ip to ${to}`,
      '  }',
      '}',
      '',
    ].join('\n');
  const file = join(w.tempDir(), 'roam.nft');
  writeFileSync(file, rules(`${NAT_WAN}:40000`));
  await nat.exec('nft', ['-f', file]);

  const { pub, home } = await tunnel(w, n, { pub: 'zmesh-wg', home: 'wireguard-go' });
  await pingUntilAnswered(n.home, INNER_PUB);
  t.is((await pub.peer(home.publicKey)).endpoint, `${NAT_WAN}:40000`, 'zmesh-wg learnt the NAT mapping');

  const bytes = 120 * 1024 * 1024;
  const transfer = tcpTransfer({ client: n.home, server: n.pub, connectTo: INNER_PUB, bytes, timeoutMs: 40_000 });
  // Mid-flow: once some data has arrived, replace the mapping — new address, new port — and forget
  // the old one, as a NAT that reboots or renumbers does.
  await waitFor(async () => (await pub.peer(home.publicKey)).rxBytes > 16n * 1024n * 1024n, {
    what: 'the transfer to be under way',
    timeoutMs: 15_000,
    intervalMs: 20,
  });
  writeFileSync(file, `flush table inet roam\n${rules(`${NAT_WAN_AFTER}:41000`)}`);
  await nat.exec('nft', ['-f', file]);
  await nat.exec('conntrack', ['-F'], { check: false });
  const atChange = (await pub.peer(home.publicKey)).rxBytes;

  const r = await transfer;
  t.true(r.intact, 'every byte arrived, SHA-256 equal');
  t.true((await pub.peer(home.publicKey)).rxBytes > atChange, 'traffic went on after the change');
  t.is(
    (await pub.peer(home.publicKey)).endpoint,
    `${NAT_WAN_AFTER}:41000`,
    'wg show on zmesh-wg shows the new endpoint',
  );
  // And zmesh-wg's own traffic now goes to the new mapping.
  const p = await ping(n.pub, INNER_HOME, { count: 3, intervalMs: 100 });
  t.is(p.loss, 0, 'zmesh-wg reaches the peer at its new endpoint');
});

async function hiddenWorld(t: Parameters<typeof wgWorld>[0], keepalive: number | undefined) {
  const w = await wgWorld(t);
  // A 2 s UDP timeout whether or not the flow was seen both ways.
  const nat = await w.natRouter('nat', { outside: 'wan', udpTimeoutSec: 2, udpStreamTimeoutSec: 2 });
  const n = await natTopology(w, nat);
  const wg = await tunnel(w, n, { pub: 'wireguard-go', home: 'zmesh-wg' }, keepalive);
  return { w, n, ...wg };
}

test('behind a NAT with a 2 s UDP timeout, persistent keepalive (1 s) keeps zmesh-wg reachable from the public side after several timeouts', async (t) => {
  const { n, pub, home } = await hiddenWorld(t, 1);
  // Turning keepalive on sends at once, which starts the handshake: no traffic from home is needed.
  await waitFor(async () => (await pub.peer(home.publicKey)).latestHandshake > 0, {
    what: 'the handshake keepalive starts',
    timeoutMs: 10_000,
  });
  // Three timeouts and more: the mapping must be present at every look.
  const start = Date.now();
  let looks = 0;
  while (Date.now() - start < 7_000) {
    t.true((await natFlows(n.nat)).length > 0, `the NAT mapping is alive at ${Date.now() - start} ms`);
    looks++;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.true(looks > 10);
  const p = await ping(n.pub, INNER_HOME, { count: 3, intervalMs: 100, timeoutMs: 2_000 });
  t.is(p.loss, 0, 'the public side reaches the NATed zmesh-wg through the tunnel');
});

test('control: without keepalive the NAT mapping expires and the public side can no longer reach zmesh-wg', async (t) => {
  const { n, pub, home } = await hiddenWorld(t, undefined);
  await pingUntilAnswered(n.home, INNER_PUB);
  t.is((await ping(n.pub, INNER_HOME, { count: 2, intervalMs: 100 })).loss, 0, 'reachable while the mapping is fresh');
  await waitFor(async () => (await natFlows(n.nat)).length === 0, {
    what: 'the NAT mapping to expire',
    timeoutMs: 10_000,
    intervalMs: 200,
  });
  const sentBefore = (await pub.peer(home.publicKey)).txBytes;
  const p = await ping(n.pub, INNER_HOME, { count: 3, intervalMs: 100, timeoutMs: 1_500 });
  t.is(p.received, 0, 'nothing gets through once the mapping is gone');
  t.true((await pub.peer(home.publicKey)).txBytes > sentBefore, 'the public side did send (the NAT dropped it)');
});
