import test from 'ava';
import { addressBytes, CookieChecker, CookieGenerator, endpointBytes } from '../../../src/wg/cookie.js';
import { DH_GENERATE, DH_PUBLIC, MAC, ready } from '../../../src/wg/crypto.js';
import {
  parseMessage,
  serializeInitiation,
  serializeResponse,
  type CookieReplyMessage,
} from '../../../src/wg/messages.js';
import { COOKIE_REFRESH_TIME } from '../../../src/wg/constants.js';

test.before(async () => {
  await ready();
});

const source = { address: '192.0.2.7', port: 51820 };

function setup() {
  const receiverPublic = DH_PUBLIC(DH_GENERATE().privateKey);
  const checker = new CookieChecker(receiverPublic);
  const generator = new CookieGenerator(receiverPublic);
  const initiation = () =>
    serializeInitiation({
      senderIndex: 42,
      unencryptedEphemeral: crypto.getRandomValues(new Uint8Array(32)),
      encryptedStatic: new Uint8Array(48),
      encryptedTimestamp: new Uint8Array(28),
    });
  return { checker, generator, initiation };
}

function replyOf(bytes: Uint8Array): CookieReplyMessage {
  const parsed = parseMessage(bytes);
  if (!parsed.ok || parsed.message.type !== 3) throw new Error('not a cookie reply');
  return parsed.message;
}

test('mac1 covers every byte before it and only those', (t) => {
  const { checker, generator, initiation } = setup();
  const bytes = initiation();
  generator.addMacs(bytes, 0);
  t.true(checker.checkMac1(bytes));
  for (const offset of [0, 4, 8, 40, 88, 115]) {
    const tampered = bytes.slice();
    tampered[offset]! ^= 0x80;
    t.false(checker.checkMac1(tampered), `byte ${offset} is covered`);
  }
  const mac2Changed = bytes.slice();
  mac2Changed[140]! ^= 1;
  t.true(checker.checkMac1(mac2Changed), 'mac2 is not covered by mac1');
  const otherReceiver = new CookieChecker(DH_PUBLIC(DH_GENERATE().privateKey));
  t.false(otherReceiver.checkMac1(bytes), 'mac1 is keyed by the receiver public key');
});

test('without a cookie mac2 is zero and fails the under-load check', (t) => {
  const { checker, generator, initiation } = setup();
  const bytes = initiation();
  generator.addMacs(bytes, 0);
  t.deepEqual(bytes.subarray(132), new Uint8Array(16));
  t.false(checker.checkMac2(bytes, source, 0));
});

test('a cookie reply gives the initiator a cookie whose mac2 the checker accepts for that source only', (t) => {
  const { checker, generator, initiation } = setup();
  const first = initiation();
  generator.addMacs(first, 1000);
  const reply = checker.createReply(first, 42, source, 1000)!;
  t.is(reply.length, 64);
  t.is(new DataView(reply.buffer).getUint32(4, true), 42, 'addressed to the sender index');
  t.true(generator.consumeReply(replyOf(reply), 1001));
  const second = initiation();
  generator.addMacs(second, 1002);
  t.true(checker.checkMac1(second));
  t.true(checker.checkMac2(second, source, 1003));
  t.false(
    checker.checkMac2(second, { address: source.address, port: source.port + 1 }, 1003),
    'the cookie is bound to the port',
  );
  t.false(checker.checkMac2(second, { address: '192.0.2.8', port: source.port }, 1003), 'and to the address');
  // the cookie is MAC(secret, ip ‖ port): recompute mac2 with a wrong cookie to be sure mac2 is what is checked
  const forged = second.slice();
  forged.set(MAC(new Uint8Array(16), forged.subarray(0, 132)), 132);
  t.false(checker.checkMac2(forged, source, 1003));
});

test('mac2 works on responses too (mac2 at offset 76)', (t) => {
  const { checker, generator } = setup();
  const response = () =>
    serializeResponse({
      senderIndex: 1,
      receiverIndex: 2,
      unencryptedEphemeral: crypto.getRandomValues(new Uint8Array(32)),
      encryptedNothing: new Uint8Array(16),
    });
  const first = response();
  generator.addMacs(first, 0);
  t.true(generator.consumeReply(replyOf(checker.createReply(first, 1, source, 0)!), 0));
  const second = response();
  generator.addMacs(second, 1);
  t.true(checker.checkMac2(second, source, 1));
});

test('the cookie reply is bound to the mac1 of the message it answers (its associated data)', (t) => {
  const { checker, generator, initiation } = setup();
  const sent = initiation();
  generator.addMacs(sent, 0);
  const other = initiation();
  new CookieGenerator(DH_PUBLIC(DH_GENERATE().privateKey)).addMacs(other, 0);
  const replyToOther = checker.createReply(other, 42, source, 0)!;
  t.false(generator.consumeReply(replyOf(replyToOther), 0), 'a reply to another message does not decrypt');
  const tampered = checker.createReply(sent, 42, source, 0)!;
  tampered[40]! ^= 1;
  t.false(generator.consumeReply(replyOf(tampered), 0), 'a tampered reply does not decrypt');
  t.true(generator.consumeReply(replyOf(checker.createReply(sent, 42, source, 0)!), 0));
  t.false(generator.consumeReply(replyOf(checker.createReply(sent, 42, source, 0)!), 0), 'one reply per message sent');
});

test('the initiator uses a cookie for mac2 for less than 120 s', (t) => {
  const { checker, generator, initiation } = setup();
  const first = initiation();
  generator.addMacs(first, 0);
  generator.consumeReply(replyOf(checker.createReply(first, 42, source, 0)!), 0);
  t.true(generator.hasFreshCookie(COOKIE_REFRESH_TIME - 1));
  const late = initiation();
  generator.addMacs(late, COOKIE_REFRESH_TIME);
  t.false(generator.hasFreshCookie(COOKIE_REFRESH_TIME));
  t.deepEqual(late.subarray(132), new Uint8Array(16), 'an expired cookie is not used');
});

test('the checker secret rotates every 120 s, so old cookies stop being accepted', (t) => {
  const { checker, generator, initiation } = setup();
  const first = initiation();
  generator.addMacs(first, 0);
  generator.consumeReply(replyOf(checker.createReply(first, 42, source, 0)!), 0);
  const withCookie = initiation();
  generator.addMacs(withCookie, 10);
  t.true(checker.checkMac2(withCookie, source, COOKIE_REFRESH_TIME - 1));
  t.false(checker.checkMac2(withCookie, source, COOKIE_REFRESH_TIME), 'the secret is stale at 120 s');
  checker.createReply(withCookie, 42, source, COOKIE_REFRESH_TIME); // regenerates the secret
  t.false(checker.checkMac2(withCookie, source, COOKIE_REFRESH_TIME + 1), 'a cookie of the old secret is refused');
});

test('source endpoints are parsed to address bytes for IPv4, IPv6 and IPv4-mapped IPv6', (t) => {
  const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString('hex') : null);
  t.is(hex(addressBytes('10.1.2.3')), '0a010203');
  t.is(hex(addressBytes('2001:db8::1')), '20010db8000000000000000000000001');
  t.is(hex(addressBytes('::')), '00000000000000000000000000000000');
  t.is(hex(addressBytes('fe80::1%eth0')), 'fe800000000000000000000000000001');
  t.is(hex(addressBytes('::ffff:192.0.2.1')), '00000000000000000000ffffc0000201');
  t.is(hex(addressBytes('1:2:3:4:5:6:7:8')), '00010002000300040005000600070008');
  t.is(addressBytes('example.com'), null);
  t.is(addressBytes('1.2.3'), null);
  t.is(hex(endpointBytes({ address: '10.0.0.1', port: 0x1234 })), '0a0000011234');
  t.is(endpointBytes({ address: '10.0.0.1', port: 70000 }), null);
});
