import test from 'ava';
import fc from 'fast-check';
import {
  MAC1_OFFSET,
  MAC2_OFFSET,
  parseMessage,
  serializeCookieReply,
  serializeInitiation,
  serializeResponse,
  serializeTransport,
} from '../../../src/wg/messages.js';

const filled = (length: number, value: number) => new Uint8Array(length).fill(value);

test('an initiation is 148 bytes with the paper layout, little-endian type and sender index', (t) => {
  const bytes = serializeInitiation({
    senderIndex: 0x04030201,
    unencryptedEphemeral: filled(32, 0xe1),
    encryptedStatic: filled(48, 0x5a),
    encryptedTimestamp: filled(28, 0x7e),
    mac1: filled(16, 0x11),
    mac2: filled(16, 0x22),
  });
  t.is(bytes.length, 148);
  t.deepEqual([...bytes.subarray(0, 8)], [1, 0, 0, 0, 1, 2, 3, 4]);
  t.is(bytes[8], 0xe1);
  t.is(bytes[40], 0x5a);
  t.is(bytes[88], 0x7e);
  t.is(MAC1_OFFSET[1], 116);
  t.is(bytes[116], 0x11);
  t.is(MAC2_OFFSET[1], 132);
  t.is(bytes[132], 0x22);
  const parsed = parseMessage(bytes);
  t.true(parsed.ok);
  if (parsed.ok && parsed.message.type === 1) {
    t.is(parsed.message.senderIndex, 0x04030201);
    t.deepEqual(parsed.message.encryptedTimestamp, filled(28, 0x7e));
    t.deepEqual(parsed.message.mac2, filled(16, 0x22));
  }
});

test('a response is 92 bytes with sender then receiver index and mac1 at 60, mac2 at 76', (t) => {
  const bytes = serializeResponse({
    senderIndex: 7,
    receiverIndex: 0xfffffffe,
    unencryptedEphemeral: filled(32, 1),
    encryptedNothing: filled(16, 2),
  });
  t.is(bytes.length, 92);
  t.deepEqual([...bytes.subarray(0, 12)], [2, 0, 0, 0, 7, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
  t.is(MAC1_OFFSET[2], 60);
  t.is(MAC2_OFFSET[2], 76);
  const parsed = parseMessage(bytes);
  t.true(parsed.ok && parsed.message.type === 2 && parsed.message.receiverIndex === 0xfffffffe);
});

test('a cookie reply is 64 bytes: receiver index, 24-byte nonce, 32-byte encrypted cookie', (t) => {
  const bytes = serializeCookieReply({ receiverIndex: 9, nonce: filled(24, 3), encryptedCookie: filled(32, 4) });
  t.is(bytes.length, 64);
  t.deepEqual([...bytes.subarray(0, 8)], [3, 0, 0, 0, 9, 0, 0, 0]);
  t.is(bytes[8], 3);
  t.is(bytes[32], 4);
  t.true(parseMessage(bytes).ok);
});

test('a transport message has a 16-byte header with a little-endian 64-bit counter; a keepalive is 32 bytes', (t) => {
  const keepalive = serializeTransport({
    receiverIndex: 1,
    counter: 0x0102030405060708n,
    encryptedPacket: filled(16, 9),
  });
  t.is(keepalive.length, 32);
  t.deepEqual([...keepalive.subarray(0, 16)], [4, 0, 0, 0, 1, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
  const parsed = parseMessage(keepalive);
  t.true(parsed.ok && parsed.message.type === 4 && parsed.message.counter === 0x0102030405060708n);
});

test('handshake messages of any other size are wrong-size failures, never exceptions', (t) => {
  for (const [type, size] of [
    [1, 148],
    [2, 92],
    [3, 64],
  ] as const) {
    for (const length of [4, size - 1, size + 1, size + 16, 1500]) {
      const bytes = new Uint8Array(length);
      bytes[0] = type;
      const parsed = parseMessage(bytes);
      t.false(parsed.ok);
      if (!parsed.ok) t.is(parsed.reason, 'wrong-size', `type ${type} length ${length}`);
    }
  }
});

test('short inputs, unknown types and non-zero reserved bytes are typed failures', (t) => {
  const reasons = (bytes: Uint8Array) => {
    const parsed = parseMessage(bytes);
    return parsed.ok ? 'ok' : parsed.reason;
  };
  t.is(reasons(new Uint8Array(0)), 'too-short');
  t.is(reasons(Uint8Array.of(1, 0, 0)), 'too-short');
  t.is(reasons(new Uint8Array(31).fill(0).map((_, i) => (i === 0 ? 4 : 0))), 'too-short', 'transport below 32 bytes');
  t.is(reasons(Uint8Array.of(5, 0, 0, 0)), 'unknown-type');
  t.is(reasons(Uint8Array.of(0, 0, 0, 0)), 'unknown-type');
  const reserved = new Uint8Array(148);
  reserved[0] = 1;
  reserved[2] = 1; // the type is a 32-bit field: reserved bytes must be zero
  t.is(reasons(reserved), 'unknown-type');
});

test('parsing random bytes never throws and only accepts exact handshake sizes', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(1, 2, 3, 4, 5),
      fc.boolean(),
      (random, type, setType) => {
        const bytes = random.slice();
        if (setType && bytes.length >= 4) bytes.set([type, 0, 0, 0]);
        const parsed = parseMessage(bytes);
        if (!parsed.ok) return true;
        const sizes: Record<number, number> = { 1: 148, 2: 92, 3: 64 };
        const m = parsed.message;
        return m.type === 4 ? bytes.length >= 32 : bytes.length === sizes[m.type];
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});
