// A bounded flood at zmesh-wg's listen port from an attacker namespace: random datagrams (shaped
// like every message type, some with a live receiver index) and replays of valid datagrams
// captured on the wire (a handshake initiation, transport data, keepalives). zmesh-wg must not
// crash, must deliver nothing to its TUN, count nothing as received, keep its peer's endpoint, and
// still carry traffic afterwards. The tunnel is idle during the flood, so any TUN RX is the flood's.
//
//   b (wireguard-go, 192.0.2.2) ── a (zmesh-wg, 192.0.2.1 / 203.0.113.1) ── m (attacker, 203.0.113.2)
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ping, waitFor } from '../harness/index.js';
import { INNER, isSocket, pingUntilAnswered, wgPair, wgWorld } from './wg-pair.js';

const RANDOM_DATAGRAMS = 15_000;
const REPLAYED_DATAGRAMS = 5_000;

/** UDP payloads of an Ethernet/IPv4 pcap (what tcpdump -w writes for a veth). */
function udpPayloads(pcap: Buffer): Buffer[] {
  const magic = pcap.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d)
    throw new Error(`not a little-endian pcap (magic ${magic.toString(16)})`);
  if (pcap.readUInt32LE(20) !== 1) throw new Error('pcap link type is not Ethernet');
  const out: Buffer[] = [];
  for (let off = 24; off + 16 <= pcap.length; ) {
    const caplen = pcap.readUInt32LE(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14]! & 0x0f) * 4;
    if (frame[14 + 9] !== 17) continue;
    out.push(Buffer.from(frame.subarray(14 + ihl + 8)));
  }
  return out;
}

// The attacker: random datagrams from a seeded generator (so a failure can be replayed), then the
// captured ones over and over; paced in batches so the sender's own buffer does not drop them.
const ATTACKER = `
const dgram = require('node:dgram'), fs = require('node:fs');
const [host, port, nRandom, nReplay, captureFile] = process.argv.slice(1);
const captured = JSON.parse(fs.readFileSync(captureFile, 'utf8')).map((b) => Buffer.from(b, 'base64'));
const liveIndexes = captured.filter((b) => b[0] === 4).map((b) => b.readUInt32LE(4));
let seed = 0x2545f491;
const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296; };
const bytes = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = rnd() * 256; return b; };
function randomDatagram() {
  const shape = Math.floor(rnd() * 6);
  if (shape === 0) return bytes(1 + Math.floor(rnd() * 1500));                  // anything
  const sizes = [148, 92, 64, 32 + 16 * Math.floor(rnd() * 88), 32];
  const b = bytes(sizes[shape - 1]);
  b.writeUInt32LE(shape <= 3 ? shape : 4, 0);                                   // a message type, right size
  if (shape >= 4 && liveIndexes.length && rnd() < 0.5) b.writeUInt32LE(liveIndexes[Math.floor(rnd() * liveIndexes.length)], 4);
  return b;
}
const s = dgram.createSocket('udp4');
let sent = 0, errors = 0;
async function run() {
  const total = Number(nRandom) + Number(nReplay);
  for (let i = 0; i < total; ) {
    const batch = [];
    for (let j = 0; j < 200 && i < total; j++, i++) {
      const d = i < Number(nRandom) ? randomDatagram() : captured[i % captured.length];
      batch.push(new Promise((r) => s.send(d, Number(port), host, (e) => { if (e) errors++; else sent++; r(); })));
    }
    await Promise.all(batch);
  }
  console.log(JSON.stringify({ done: true, sent, errors }));
  s.close();
}
run();
`;

test('a flood of 15k random and 5k replayed datagrams crashes nothing, delivers nothing to the TUN, and the tunnel still works', async (t) => {
  const w = await wgWorld(t);
  const pair = await wgPair(w, { a: 'zmesh-wg', b: 'wireguard-go', initiator: 'b' });
  const attacker = await w.namespace('m');
  await w.link(pair.a.ns, 'um', attacker, 'ua', { addressA: '203.0.113.1/24', addressB: '203.0.113.2/24' });

  // Capture what B sends to A: its handshake initiation, data and keepalives.
  const pcapFile = join(w.tempDir(), 'b-to-a.pcap');
  const tcpdump = pair.b.ns.spawn('tcpdump', [
    '-n',
    '-U',
    '--immediate-mode',
    '-Z',
    'root',
    '-i',
    'ub',
    '-w',
    pcapFile,
    `udp and dst port ${pair.ports.a}`,
  ]);
  // As in dataplane-offload: a start under load (two cores shared by several runs) can pass 5 s.
  await tcpdump.waitForOutput(/listening on/, { stream: 'stderr', timeoutMs: 10_000 });
  await pingUntilAnswered(pair.b.ns, INNER.a);
  t.is((await ping(pair.b.ns, INNER.a, { count: 10, intervalMs: 20 })).loss, 0);
  await tcpdump.stop();
  const captured = udpPayloads(readFileSync(pcapFile));
  t.log(`captured ${captured.length} datagrams (type:size) ${captured.map((d) => `${d[0]}:${d.length}`).join(' ')}`);
  t.true(
    captured.some((d) => d[0] === 1 && d.length === 148),
    'the capture holds a handshake initiation',
  );
  t.true(captured.filter((d) => d[0] === 4 && d.length > 32).length >= 10, 'and transport data');
  const captureFile = join(w.tempDir(), 'captured.json');
  writeFileSync(captureFile, JSON.stringify(captured.map((b) => b.toString('base64'))));

  const before = { tunRx: await pair.a.tunRxPackets(), peer: await pair.a.peer(pair.b.publicKey) };
  const flood = attacker.spawn(process.execPath, [
    '-e',
    ATTACKER,
    '203.0.113.1',
    String(pair.ports.a),
    String(RANDOM_DATAGRAMS),
    String(REPLAYED_DATAGRAMS),
    captureFile,
  ]);
  const [, report] = await flood.waitForOutput(/(\{"done":true.*\})/, { timeoutMs: 30_000 });
  const { sent } = JSON.parse(report!) as { sent: number };
  t.true(sent >= 0.99 * (RANDOM_DATAGRAMS + REPLAYED_DATAGRAMS), `the attacker sent ${sent} datagrams`);
  // Let zmesh-wg drain its socket: wait until its namespace saw every datagram either read
  // (InDatagrams) or dropped by a full receive buffer (InErrors: a loaded machine does that to a
  // burst of 20k, and a dropped datagram never arrives to be counted).
  await waitFor(
    async () => {
      const snmp = (await pair.a.ns.exec('cat', ['/proc/net/snmp'])).stdout
        .split('\n')
        .filter((l) => l.startsWith('Udp: '));
      const [names, values] = [snmp[0]?.split(/\s+/) ?? [], snmp[1]?.split(/\s+/) ?? []];
      const field = (name: string) => Number(values[names.indexOf(name)] ?? 0);
      return field('InDatagrams') + field('InErrors') >= sent;
    },
    { what: 'the datagrams to reach zmesh-wg or its full socket', timeoutMs: 10_000 },
  );

  t.true(pair.a.process.running, 'zmesh-wg is still running');
  t.true(isSocket(pair.a.socketPath), 'its UAPI socket is there');
  const after = { tunRx: await pair.a.tunRxPackets(), peer: await pair.a.peer(pair.b.publicKey) }; // wg show answers
  t.is(after.tunRx, before.tunRx, 'nothing was delivered to the TUN');
  t.is(after.peer.rxBytes, before.peer.rxBytes, 'nothing was counted as received from the peer');
  t.is(after.peer.endpoint, before.peer.endpoint, "replays from elsewhere did not move the peer's endpoint");
  t.is((await ping(pair.a.ns, INNER.b, { count: 3, intervalMs: 100 })).loss, 0, 'A → B still works');
  t.is((await ping(pair.b.ns, INNER.a, { count: 3, intervalMs: 100 })).loss, 0, 'B → A still works');
});
