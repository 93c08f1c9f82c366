import test from 'ava';
import { AEAD_OPEN, DH_GENERATE, DH_PUBLIC, ready } from '../../../src/wg/crypto.js';
import { parseMessage, type TransportMessage } from '../../../src/wg/messages.js';
import { decryptTransport, encryptTransport, paddedLength, PeerTransport } from './helpers/transport.js';
import type { InstalledKeypair } from '../../../src/wg/protocol.js';

test.before(async () => {
  await ready();
});

const key = (fill: number) => new Uint8Array(32).fill(fill);
const transportOf = (bytes: Uint8Array) => {
  const parsed = parseMessage(bytes);
  if (!parsed.ok || parsed.message.type !== 4) throw new Error('not a transport message');
  return parsed.message as TransportMessage;
};

test('plaintext is padded with zeros to a multiple of 16 but never beyond the MTU', (t) => {
  t.is(paddedLength(0, 1420), 0);
  t.is(paddedLength(1, 1420), 16);
  t.is(paddedLength(16, 1420), 16);
  t.is(paddedLength(17, 1420), 32);
  t.is(paddedLength(1409, 1420), 1420, 'rounding up to 1424 would exceed the MTU');
  t.is(paddedLength(1420, 1420), 1420, 'a full-MTU packet is not padded');
  t.is(paddedLength(1500, 1420), 1500, 'a packet over the MTU (offloads) is not padded, as in wireguard-go');
  const bytes = encryptTransport(7, key(1), 0n, new Uint8Array(17).fill(0xaa), 1420);
  t.is(bytes.length, 16 + 32 + 16);
  const plaintext = decryptTransport(key(1), transportOf(bytes))!;
  t.deepEqual(plaintext.subarray(17), new Uint8Array(15), 'padding is zeros');
});

test('a keepalive is an empty payload: 32 bytes on the wire', (t) => {
  const bytes = encryptTransport(7, key(1), 3n, new Uint8Array(0), 1420);
  t.is(bytes.length, 32);
  t.deepEqual(decryptTransport(key(1), transportOf(bytes)), new Uint8Array(0));
});

test('the nonce is the message counter: the ciphertext opens with AEAD at that counter only', (t) => {
  const bytes = encryptTransport(1, key(2), 0x1122334455n, new Uint8Array([1, 2, 3]), 1420);
  const message = transportOf(bytes);
  t.is(message.counter, 0x1122334455n);
  t.is(message.receiverIndex, 1);
  t.truthy(AEAD_OPEN(key(2), 0x1122334455n, message.encryptedPacket, new Uint8Array(0)));
  t.is(decryptTransport(key(2), { ...message, counter: 0x1122334456n }), null);
  t.is(decryptTransport(key(3), message), null, 'another key fails');
});

function keypair(
  localIndex: number,
  remoteIndex: number,
  initiator: boolean,
  sendKey: Uint8Array,
  receiveKey: Uint8Array,
): InstalledKeypair {
  return { localIndex, remoteIndex, initiator, createdAt: 0, sendKey, receiveKey };
}

test('the reference data plane rejects replays and accepts reordering within the window', (t) => {
  const peerKey = DH_PUBLIC(DH_GENERATE().privateKey);
  const sender = new PeerTransport(peerKey);
  const receiver = new PeerTransport(peerKey);
  sender.install(keypair(1, 2, true, key(5), key(6)));
  receiver.install(keypair(2, 1, true, key(6), key(5)));
  const packets = [0, 1, 2].map((i) => sender.send(new Uint8Array([i]), 0)!);
  t.true(receiver.open(packets[2]!, 0).ok);
  t.true(receiver.open(packets[0]!, 0).ok);
  t.deepEqual(receiver.open(packets[0]!, 0), { ok: false, reason: 'replay' });
  const tampered = packets[1]!.slice();
  tampered[20]! ^= 1;
  t.deepEqual(receiver.open(tampered, 0), { ok: false, reason: 'decrypt' });
  t.true(receiver.open(packets[1]!, 0).ok, 'a failed forgery does not burn the counter');
  const unknown = packets[1]!.slice();
  unknown[4] = 99;
  t.deepEqual(receiver.open(unknown, 0), { ok: false, reason: 'unknown-index' });
});

test('the reference slots follow the kernel: a responder keypair waits in next until a packet arrives on it', (t) => {
  const peerKey = DH_PUBLIC(DH_GENERATE().privateKey);
  const responder = new PeerTransport(peerKey);
  const initiator = new PeerTransport(peerKey);
  responder.install(keypair(10, 20, false, key(7), key(8)));
  initiator.install(keypair(20, 10, true, key(8), key(7)));
  t.is(responder.send(new Uint8Array([1]), 0), null, 'no current keypair: queued');
  t.is(responder.report().wantsHandshake, true);
  const first = initiator.send(new Uint8Array([2]), 5)!;
  t.true(responder.open(first, 6).ok);
  t.is(responder.current?.keypair.localIndex, 10);
  const report = responder.report();
  t.true(report.confirmedNextKeypair);
  t.is(report.lastDataReceivedAt, 6);
  t.false(responder.report().confirmedNextKeypair, 'the confirmation is reported once');
  t.is(responder.flush(7).length, 1, 'the queued packet goes out on the confirmed keypair');
});
