// The native data plane between two namespaces, with keypairs installed by
// hand (no handshake): delivery both ways, integrity, counters, keypair
// promotion, staging, and every kind of bad packet dropped and counted.
import { randomBytes } from 'node:crypto';
import test from 'ava';

import {
  INNER_A,
  INNER_B,
  PEER_OF_A,
  PEER_OF_B,
  UNDERLAY4,
  installMatching,
  keyPair,
  makeWorld,
  ping,
  until,
} from './dataplane-world.js';

test('ping crosses the tunnel both ways with both sides initiators, and per-peer counters grow', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  t.true(await ping(w.a, INNER_B), 'A pings B');
  t.true(await ping(w.b, INNER_A), 'B pings A');
  const sa = w.a.dp.peerStats().find((s) => s.peerId === PEER_OF_A)!;
  const sb = w.b.dp.peerStats().find((s) => s.peerId === PEER_OF_B)!;
  // 6 echo requests/replies each way, 84-byte IP packets padded to 96 + 32 bytes of header and tag.
  t.true(sa.txBytes >= 6 * 128 && sa.rxBytes >= 6 * 128, `A tx ${sa.txBytes} rx ${sa.rxBytes}`);
  t.true(sb.txBytes >= 6 * 128 && sb.rxBytes >= 6 * 128, `B tx ${sb.txBytes} rx ${sb.rxBytes}`);
  t.true(sa.sendCounter >= 6n);
  t.true(sa.lastDataReceivedMs > 0 && sa.lastAuthenticatedSentMs > 0);
  t.deepEqual(sa.endpoint, { address: UNDERLAY4.b, port: w.b.port4 });
});

test('ping crosses the tunnel over an IPv6 underlay', async (t) => {
  const w = await makeWorld(t, { underlay: 6 });
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  t.true(await ping(w.a, INNER_B));
  t.is(w.b.dp.peerStats()[0]!.endpoint?.address, 'fd00:77::1');
});

test('a responder keypair waits as "next" until the initiator speaks, is then confirmed, and the responder\'s staged packet is flushed', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: false, indexB: 0x0b0b0042 });
  // B may not send yet: its ping waits in the staged queue, and B asks for a handshake.
  // Staged until A's keepalive below (three polls on a loaded machine; once past 2 s under the sanitizer build).
  const bPing = ping(w.b, INNER_A, 1, 40);
  await until('B to stage a packet', () => w.b.dp.peerStats()[0]!.staged > 0);
  t.false(w.b.dp.peerStats()[0]!.hasCurrentKeypair);
  await until('B to want a handshake', () => w.b.wants.includes(PEER_OF_B));
  // A (initiator) sends a keepalive: B authenticates on next, promotes it, flushes its ping.
  t.true(w.a.dp.sendKeepalive(PEER_OF_A));
  await until('B to confirm its keypair', () => w.b.confirmed.length > 0);
  t.deepEqual(w.b.confirmed, [{ peerId: PEER_OF_B, localIndex: 0x0b0b0042 }]);
  t.true(await bPing, 'the staged echo request was delivered and answered');
  t.true(w.b.dp.peerStats()[0]!.hasCurrentKeypair);
  t.is(w.b.dp.peerStats()[0]!.staged, 0);
});

test('packets without a keypair are staged, wants-handshake fires once, and installKeypair flushes them', async (t) => {
  const w = await makeWorld(t);
  const k = keyPair();
  // Only B has keys; A has none yet.
  w.b.dp.installKeypair(PEER_OF_B, { localIndex: 7, remoteIndex: 8, sendKey: k.k2, receiveKey: k.k1, initiator: true });
  // The one ping waits while A stages it and until the keypair arrives (two polls on a loaded machine).
  const aPing = ping(w.a, INNER_B, 1, 40);
  await until('A to stage', () => w.a.dp.peerStats()[0]!.staged >= 1);
  await until('A to want a handshake', () => w.a.wants.length > 0);
  t.deepEqual(w.a.wants, [PEER_OF_A], 'reported once, not per packet');
  t.true(w.a.dp.peerStats()[0]!.wantsHandshake);
  w.a.dp.installKeypair(PEER_OF_A, { localIndex: 8, remoteIndex: 7, sendKey: k.k1, receiveKey: k.k2, initiator: true });
  t.true(await aPing);
  t.false(w.a.dp.peerStats()[0]!.wantsHandshake);
});

test('a 50 MB TCP transfer through the tunnel arrives with the same SHA-256', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  const size = 50 * 1024 * 1024;
  const server = w.spawn(w.b.ns, 'node', [
    '-e',
    `
    const net = require('node:net'), crypto = require('node:crypto');
    const srv = net.createServer((s) => { const h = crypto.createHash('sha256'); let n = 0;
      s.on('data', (d) => { n += d.length; h.update(d); });
      s.on('end', () => { console.log(JSON.stringify({ n, sha: h.digest('hex') })); srv.close(); }); });
    srv.listen(5001, '${INNER_B}', () => console.error('listening'));`,
  ]);
  await until('the server to listen', async () => (await w.b.exec('ss', ['-Htln', 'sport = :5001'])).includes('5001'));
  const started = Date.now();
  const client = await w.a.exec(
    'node',
    [
      '-e',
      `
    const net = require('node:net'), crypto = require('node:crypto');
    const h = crypto.createHash('sha256'); let left = ${size};
    const s = net.connect(5001, '${INNER_B}', () => { const pump = () => { while (left > 0) {
      const c = crypto.randomBytes(Math.min(65536, left)); left -= c.length; h.update(c);
      if (!s.write(c)) return s.once('drain', pump); } s.end(); console.log(h.digest('hex')); }; pump(); });`,
    ],
    { timeout: 50_000 },
  );
  const result = JSON.parse(String((await server).stdout)) as { n: number; sha: string };
  const seconds = (Date.now() - started) / 1000;
  t.is(result.n, size);
  t.is(result.sha, client.trim());
  t.log(`50 MB in ${seconds.toFixed(2)} s (${((size * 8) / seconds / 1e9).toFixed(2)} Gbit/s)`);
  const s = w.a.dp.peerStats()[0]!;
  t.true(s.txBytes > size, 'tx counts every byte sent');
});

test('with mismatched keys nothing is delivered and the auth-failure counter grows', async (t) => {
  const w = await makeWorld(t);
  const good = keyPair();
  const bad = keyPair();
  w.a.dp.installKeypair(PEER_OF_A, {
    localIndex: 1,
    remoteIndex: 2,
    sendKey: bad.k1,
    receiveKey: good.k2,
    initiator: true,
  });
  w.b.dp.installKeypair(PEER_OF_B, {
    localIndex: 2,
    remoteIndex: 1,
    sendKey: good.k2,
    receiveKey: good.k1,
    initiator: true,
  });
  const before = await w.b.tunRxPackets();
  t.false(await ping(w.a, INNER_B, 3));
  t.true(w.b.dp.dropCounters().authFailed >= 3);
  t.is(await w.b.tunRxPackets(), before);
  t.is(w.b.dp.peerStats()[0]!.rxBytes, 0, 'unauthenticated packets count nowhere');
});

test('a replayed capture of valid packets is not delivered again and the replay counter grows', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  // A's packets go to a recorder in B instead of B's data plane.
  const recorder = w.spawn(w.b.ns, 'node', [
    '-e',
    `
    const s = require('node:dgram').createSocket('udp4'); const got = [];
    s.on('message', (m) => { got.push(m.toString('base64')); if (got.length === 5) { console.log(JSON.stringify(got)); s.close(); } });
    s.bind(6000, '${UNDERLAY4.b}', () => console.error('bound'));`,
  ]);
  await until('the recorder to bind', async () => (await w.b.exec('ss', ['-Huln', 'sport = :6000'])).includes('6000'));
  w.a.dp.setPeer(PEER_OF_A, { endpoint: { address: UNDERLAY4.b, port: 6000 } });
  await ping(w.a, INNER_B, 5); // fails: the recorder swallows them
  const captured = JSON.parse(String((await recorder).stdout)) as string[];
  t.is(captured.length, 5);
  const replay = (times: number) =>
    w.a.exec('node', [
      '-e',
      `
    const s = require('node:dgram').createSocket('udp4'); const msgs = ${JSON.stringify(captured)};
    let left = msgs.length * ${times};
    for (let r = 0; r < ${times}; r++) for (const m of msgs) s.send(Buffer.from(m, 'base64'), ${w.b.port4}, '${UNDERLAY4.b}', () => { if (--left === 0) s.close(); });`,
    ]);
  const before = await w.b.tunRxPackets();
  await replay(1); // first time: fresh, valid, delivered
  await until('the first delivery', async () => (await w.b.tunRxPackets()) === before + 5);
  await replay(3); // again: replays
  await until('15 replays counted', () => w.b.dp.dropCounters().replay === 15);
  t.is(await w.b.tunRxPackets(), before + 5);
});

test("a packet whose inner source is outside the sending peer's allowed IPs is dropped", async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  await w.a.exec('ip', ['addr', 'add', '10.99.0.1/32', 'dev', 'zdp0']);
  const before = await w.b.tunRxPackets();
  t.true(await ping(w.a, INNER_B, 2), 'from its allowed address A gets through');
  const spoofed = await w.a.exec('ping', ['-c', '2', '-i', '0.05', '-W', '1', '-I', '10.99.0.1', INNER_B]).then(
    () => true,
    () => false,
  );
  t.false(spoofed, 'from 10.99.0.1 it does not');
  await until('2 source-check drops', () => w.b.dp.dropCounters().sourceNotAllowed === 2);
  t.is(await w.b.tunRxPackets(), before + 2);
});

test('handshake-sized type 1/2/3 messages reach onHandshakeMessages with their source; wrong sizes are dropped', async (t) => {
  const w = await makeWorld(t);
  const msg = (type: number, size: number) => {
    const b = new Uint8Array(randomBytes(size));
    b.set([type, 0, 0, 0]);
    return b;
  };
  const sent = [msg(1, 148), msg(2, 92), msg(3, 64)];
  for (const m of sent) t.true(w.a.dp.sendRawTo({ address: UNDERLAY4.b, port: w.b.port4 }, m));
  t.true(w.a.dp.sendRawTo({ address: UNDERLAY4.b, port: w.b.port4 }, msg(1, 149)));
  t.true(w.a.dp.sendRaw(PEER_OF_A, msg(2, 91)));
  await until('three handshake messages', () => w.b.handshakes.length === 3);
  await until('two size drops', () => w.b.dp.dropCounters().handshakeSize === 2);
  t.deepEqual(
    w.b.handshakes.map((h) => Buffer.from(h.bytes).toString('hex')),
    sent.map((m) => Buffer.from(m).toString('hex')),
  );
  for (const h of w.b.handshakes) t.deepEqual(h.from, { address: UNDERLAY4.a, port: w.a.port4 });
  t.is(w.a.dp.peerStats()[0]!.txBytes, 91, "sendRaw counts in the peer's tx");
});

test('a flood of 20k garbage datagrams delivers nothing, crashes nothing, and the tunnel still works', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true, indexB: 0x0b0b0001 });
  const before = await w.b.tunRxPackets();
  const to = { address: UNDERLAY4.b, port: w.b.port4 };
  for (let i = 0; i < 20_000; i++) {
    const b = new Uint8Array(randomBytes(1 + (i % 300)));
    if (i % 3 === 0 && b.length >= 4) b.set([4, 0, 0, 0]); // transport with a random index
    if (i % 3 === 1 && b.length >= 8) b.set([4, 0, 0, 0, 0x01, 0x00, 0x0b, 0x0b]); // B's real index, bad tag
    w.a.dp.sendRawTo(to, b);
  }
  const dropped = () => Object.values(w.b.dp.dropCounters()).reduce((x, y) => x + y, 0) + w.b.handshakes.length;
  // Datagrams may be lost in socket buffers, never delivered: wait until the counters settle.
  let last = -1;
  await until(
    'the flood to be processed',
    async () => {
      const d = dropped();
      const settled = d === last;
      last = d;
      await new Promise((r) => setTimeout(r, 50));
      return settled && d > 0;
    },
    20_000,
  );
  t.log(`dropped ${dropped()} of 20000: ${JSON.stringify(w.b.dp.dropCounters())}`);
  t.true(w.b.dp.dropCounters().authFailed > 1000);
  t.is(await w.b.tunRxPackets(), before, 'nothing reached the TUN');
  t.is(w.b.dp.peerStats()[0]!.rxBytes, 0);
  t.true(await ping(w.a, INNER_B), 'the tunnel still works');
});

test('removing a peer during a flood of traffic is safe: its traffic stops and the device keeps working', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  const flood = w.a.exec('ping', ['-f', '-w', '2', '-q', INNER_B], { timeout: 10_000 }).catch(() => '');
  await until('traffic to flow', () => (w.b.dp.peerStats()[0]?.rxBytes ?? 0) > 50_000);
  w.b.dp.removePeer(PEER_OF_B);
  t.deepEqual(w.b.dp.peerStats(), []);
  t.is(w.b.dp.lookup(INNER_A), null);
  await until("A's packets to meet an unknown index", () => w.b.dp.dropCounters().unknownIndex > 0);
  await flood;
  // The device still takes a new peer and works.
  w.b.dp.setPeer(PEER_OF_B, {
    endpoint: { address: UNDERLAY4.a, port: w.a.port4 },
    allowedIps: [{ address: INNER_A, prefix: 32 }],
  });
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true, indexA: 0x0a0a0077, indexB: 0x0b0b0077 });
  t.true(await ping(w.a, INNER_B));
});
