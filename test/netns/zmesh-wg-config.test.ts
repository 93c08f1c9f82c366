// Configuration changes on a running zmesh-wg take effect at once (removing a peer, changing the
// private key, replacing allowed IPs), and bad input changes nothing: malformed UAPI set requests
// sent raw over its socket answer the right errno, and a listen port taken by another socket in
// the namespace is refused. Peers are Debian's wireguard-go and a second zmesh-wg.
//
//   b (wireguard-go, 10.99.0.2) ── ub │ a (zmesh-wg, 10.99.0.1) │ uc ── c (zmesh-wg, 10.99.0.3 + 10.99.0.100)
import test from 'ava';
import net from 'node:net';
import { ping, type Namespace, type PingResult, type World } from '../harness/index.js';
import {
  endpointText,
  generateKeys,
  INNER,
  pingUntilAnswered,
  startWg,
  wgPair,
  wgWorld,
  type WgInterface,
} from './wg-pair.js';

const INNER_C = '10.99.0.3';
const MOVABLE = '10.99.0.100';

/** Short pings: a change that takes effect at once shows in the very next packets. */
const quickPing = (from: Namespace, to: string): Promise<PingResult> =>
  ping(from, to, { count: 3, intervalMs: 100, timeoutMs: 1_000 });

/**
 * The same three pings expected answered: ping stops at the third reply, so the long deadline
 * costs nothing when they are, and a loaded machine's slow reply is not counted as a loss.
 */
const answeredPing = (from: Namespace, to: string): Promise<PingResult> =>
  ping(from, to, { count: 3, intervalMs: 100, timeoutMs: 10_000 });

interface Hub {
  a: WgInterface;
  b: WgInterface;
  c: WgInterface;
}

async function hub(w: World): Promise<Hub> {
  const [nsA, nsB, nsC] = [await w.namespace('a'), await w.namespace('b'), await w.namespace('c')];
  await w.link(nsA, 'ub', nsB, 'ua', { addressA: '192.0.2.1/30', addressB: '192.0.2.2/30' });
  await w.link(nsA, 'uc', nsC, 'ua', { addressA: '192.0.2.5/30', addressB: '192.0.2.6/30' });
  const [a, b, c] = await Promise.all([
    startWg(w, nsA, 'wa', 'zmesh-wg', { address: `${INNER.a}/24` }),
    startWg(w, nsB, 'wb', 'wireguard-go', { address: `${INNER.b}/24` }),
    startWg(w, nsC, 'wc', 'zmesh-wg', { address: `${INNER_C}/24` }),
  ]);
  await nsC.addAddress(c.ifname, `${MOVABLE}/32`);
  const portA = await a.listenPort();
  await a.setPeer(b.publicKey, {
    endpoint: endpointText('192.0.2.2', await b.listenPort()),
    allowedIps: [`${INNER.b}/32`, `${MOVABLE}/32`],
  });
  await a.setPeer(c.publicKey, {
    endpoint: endpointText('192.0.2.6', await c.listenPort()),
    allowedIps: [`${INNER_C}/32`],
  });
  await b.setPeer(a.publicKey, { endpoint: endpointText('192.0.2.1', portA), allowedIps: [`${INNER.a}/32`] });
  await c.setPeer(a.publicKey, { endpoint: endpointText('192.0.2.5', portA), allowedIps: [`${INNER.a}/32`] });
  await pingUntilAnswered(nsA, INNER.b);
  await pingUntilAnswered(nsA, INNER_C);
  return { a, b, c };
}

test('removing a peer stops its traffic at once, both ways, and leaves the other peer working', async (t) => {
  const w = await wgWorld(t);
  const { a, b } = await hub(w);
  t.is((await answeredPing(b.ns, INNER.a)).loss, 0, 'B reaches A before');
  await a.removePeer(b.publicKey);
  t.false(
    (await a.dump()).peers.some((p) => p.publicKey === b.publicKey),
    'wg show no longer lists B',
  );
  t.is((await quickPing(a.ns, INNER.b)).received, 0, 'A → B stops at once');
  t.is((await quickPing(b.ns, INNER.a)).received, 0, "B → A stops at once (B's session is no longer accepted)");
  t.is((await answeredPing(a.ns, INNER_C)).loss, 0, 'C is unaffected');
});

test('changing the private key stops traffic with peers that know the old one at once; it resumes when they learn the new public key', async (t) => {
  const w = await wgWorld(t);
  const { a, b, c } = await hub(w);
  const oldPublic = a.publicKey;
  await a.changePrivateKey(generateKeys(w));
  t.not((await a.dump()).publicKey, oldPublic, 'wg show reports the new public key');
  t.is((await quickPing(a.ns, INNER.b)).received, 0, 'A → B stops at once');
  t.is((await quickPing(b.ns, INNER.a)).received, 0, 'B → A stops at once');
  t.is((await quickPing(c.ns, INNER.a)).received, 0, 'C → A stops at once');

  // B (wireguard-go) learns A's new key: the next handshake uses it and traffic flows again.
  const endpoint = (await b.peer(oldPublic)).endpoint!;
  await b.removePeer(oldPublic);
  await b.setPeer(a.publicKey, { endpoint, allowedIps: [`${INNER.a}/32`] });
  await pingUntilAnswered(b.ns, INNER.a);
  t.is((await answeredPing(a.ns, INNER.b)).loss, 0, 'A ↔ B works with the new key');
  t.is((await quickPing(c.ns, INNER.a)).received, 0, 'C, still on the old key, stays cut off');
});

test('replacing allowed IPs moves an address to another peer at once, and removing it stops it at once', async (t) => {
  const w = await wgWorld(t);
  const { a, b, c } = await hub(w);
  // MOVABLE is routed to B, which does not have it: nothing answers.
  const toB = (await a.peer(b.publicKey)).txBytes;
  t.is((await quickPing(a.ns, MOVABLE)).received, 0, 'while routed to B, nobody answers');
  t.true((await a.peer(b.publicKey)).txBytes > toB, 'the pings went to B');

  await a.setPeer(c.publicKey, { allowedIps: [`${INNER_C}/32`, `${MOVABLE}/32`] });
  t.deepEqual((await a.peer(b.publicKey)).allowedIps, [`${INNER.b}/32`], 'the address left B');
  t.is((await answeredPing(a.ns, MOVABLE)).loss, 0, 'moved to C: answered at once');

  await a.setPeer(c.publicKey, { allowedIps: [`${INNER_C}/32`] });
  t.is((await quickPing(a.ns, MOVABLE)).received, 0, 'replaced without it: stops at once');
  t.is((await answeredPing(a.ns, INNER_C)).loss, 0, "C's remaining address still works");
});

test('fwmark marks the encrypted traffic: a policy rule for the mark takes effect at once, and fwmark 0 lifts it', async (t) => {
  const w = await wgWorld(t);
  const { a } = await hub(w);
  // In A's namespace, packets marked 0x42 are routed by table 100, which blackholes B's underlay.
  await a.ns.ip(['rule', 'add', 'fwmark', '0x42', 'lookup', '100']);
  await a.ns.ip(['route', 'add', 'blackhole', '192.0.2.2/32', 'table', '100']);
  t.is((await answeredPing(a.ns, INNER.b)).loss, 0, 'unmarked: A reaches B');

  await a.wg(['set', a.ifname, 'fwmark', '0x42']);
  t.is((await a.wg(['show', a.ifname, 'fwmark'])).stdout.trim(), '0x42', 'wg show reports the mark');
  t.is((await quickPing(a.ns, INNER.b)).received, 0, "marked: A's datagrams to B hit the blackhole");
  t.is((await answeredPing(a.ns, INNER_C)).loss, 0, 'C, not covered by the rule, still works with the mark');

  await a.wg(['set', a.ifname, 'fwmark', '0']);
  t.is((await answeredPing(a.ns, INNER.b)).loss, 0, 'fwmark 0: A reaches B again');
});

/** One raw request over the UAPI socket; resolves with the whole answer. */
function exchange(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to a ${request.length}-byte request within 10 s (got ${JSON.stringify(answer)})`));
    }, 10_000);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.endsWith('\n\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(answer);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const KEY = 'ab'.repeat(32);
/** [what, body lines after the valid prefix, errno] */
const MALFORMED: ReadonlyArray<readonly [string, string, number]> = [
  ['unknown key', 'no_such_key=1', -22],
  ["a line without '='", 'listen_port', -71],
  ['bad key hex', `public_key=${'zz'.repeat(32)}`, -22],
  ['a key one hex digit short', `public_key=${KEY.slice(1)}`, -22],
  ['a private key one hex digit long', `private_key=${KEY}a`, -22],
  ['port above 65535', 'listen_port=65536', -22],
  ['negative port', 'listen_port=-1', -22],
  ['port with trailing garbage', 'listen_port=51820x', -22],
  ['bad CIDR (prefix 33)', `public_key=${KEY}\nallowed_ip=10.0.0.0/33`, -22],
  ['bad CIDR (no prefix)', `public_key=${KEY}\nallowed_ip=10.0.0.1`, -22],
  ['TRUE for a boolean', 'replace_peers=TRUE', -22],
  ['endpoint before public_key', 'endpoint=192.0.2.1:1', -22],
  ['endpoint without a port', `public_key=${KEY}\nendpoint=192.0.2.1`, -22],
  ['protocol_version 2', `public_key=${KEY}\nprotocol_version=2`, -22],
  ['keepalive above 65535', `public_key=${KEY}\npersistent_keepalive_interval=65536`, -22],
];

test('malformed UAPI set requests sent raw to a running zmesh-wg answer their errno and leave wg showconf byte-identical', async (t) => {
  const w = await wgWorld(t);
  const pair = await wgPair(w, { a: 'zmesh-wg', b: 'wireguard-go' });
  await pingUntilAnswered(pair.a.ns, INNER.b);
  const before = await pair.a.showconfDigest();
  for (const [what, body, errno] of MALFORMED) {
    // Valid lines first (a new port, dropping every peer): none of them may be applied.
    const request = `set=1\nlisten_port=1\nreplace_peers=true\n${body}\n\n`;
    t.is(await exchange(pair.a.socketPath, request), `errno=${errno}\n\n`, what);
    t.is(await pair.a.showconfDigest(), before, `${what}: wg showconf unchanged`);
  }
  t.is((await answeredPing(pair.a.ns, INNER.b)).loss, 0, 'the tunnel still works');
  t.true(pair.a.process.running, 'zmesh-wg is still running');
});

const HOLD_PORT = `
const dgram = require('node:dgram');
const [family, port] = process.argv.slice(1);
const s = dgram.createSocket(family === '6' ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
s.bind(Number(port), family === '6' ? '::' : '0.0.0.0', () => console.log('bound'));
`;

for (const family of [4, 6] as const) {
  test(`wg set listen-port with a port held by an IPv${family} socket in the namespace fails with "Address in use" and changes nothing`, async (t) => {
    const w = await wgWorld(t);
    const pair = await wgPair(w, { a: 'zmesh-wg', b: 'wireguard-go' });
    await pingUntilAnswered(pair.a.ns, INNER.b);
    const port = pair.ports.a === 40123 ? 40124 : 40123;
    const holder = pair.a.ns.spawn(process.execPath, ['-e', HOLD_PORT, String(family), String(port)]);
    await holder.waitForOutput('bound');
    const before = await pair.a.showconfDigest();

    const r = await pair.a.wg(['set', pair.a.ifname, 'listen-port', String(port)], { check: false });
    t.not(r.exitCode, 0, 'wg set fails');
    t.regex(r.stderr, /Address (already )?in use/);
    t.is(await pair.a.listenPort(), pair.ports.a, 'the old port is kept');
    t.is(await pair.a.showconfDigest(), before, 'wg showconf unchanged');
    t.is((await answeredPing(pair.b.ns, INNER.a)).loss, 0, 'the peer still reaches zmesh-wg on the old port');
  });
}
