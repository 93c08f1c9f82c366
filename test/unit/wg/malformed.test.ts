/**
 * Everything malformed is dropped with a reason, without throwing and
 * without changing state: random bytes, wrong sizes, mutations of genuine
 * messages, messages that pass mac1 but fail their AEAD, replays and
 * unknown indices. Each property ends by delivering the genuine message, to
 * show that the state the garbage did not change is one that still works.
 */
import test from 'ava';
import fc from 'fast-check';
import { Pair } from './helpers/pair.js';
import type { Node } from './helpers/pair.js';
import { CookieGenerator } from '../../../src/wg/cookie.js';
import { serializeResponse } from '../../../src/wg/messages.js';

function snapshot(pair: Pair, node: Node): string {
  return JSON.stringify({ status: node.core.peerStatus(pair.other(node).publicKey), indices: node.core.indexCount });
}

/** a's initiation and b's response to it, neither delivered to a yet; a is waiting for the response. */
async function capturedHandshake() {
  const pair = await Pair.create();
  pair.blocked = true;
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  const initiation = pair.sent[0]!.bytes;
  const fresh = await Pair.create(); // a pair whose b has not seen this initiation, for initiation mutations
  pair.apply(pair.b, pair.b.core.receiveHandshake(initiation, pair.a.endpoint, false));
  const response = pair.sent.find((d) => d.bytes.length === 92)!.bytes;
  return { pair, initiation, response, fresh };
}

const sameBytes = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));

const mutate = (bytes: Uint8Array, mutations: { offset: number; xor: number }[], resizeTo: number | null) => {
  let out = bytes.slice();
  for (const { offset, xor } of mutations) out[offset % out.length]! ^= xor;
  if (resizeTo !== null) {
    const resized = new Uint8Array(resizeTo);
    resized.set(out.subarray(0, resizeTo));
    out = resized;
  }
  return out;
};

test('random bytes of any length and type are dropped without output, exception or state change', async (t) => {
  const { pair } = await capturedHandshake();
  for (const node of [pair.a, pair.b]) {
    const before = snapshot(pair, node);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(0, 1, 2, 3, 4, 9),
        fc.constantFrom(null, 148, 92, 64, 32),
        fc.boolean(),
        (bytes, type, size, underLoad) => {
          let input = bytes;
          if (size !== null) {
            input = new Uint8Array(size);
            input.set(bytes.subarray(0, size));
          }
          if (input.length >= 4 && type !== 9) input.set([type, 0, 0, 0]);
          const outputs = node.core.receiveHandshake(input, pair.a.endpoint, underLoad);
          return outputs.length === 0;
        },
      ),
      { numRuns: 300 },
    );
    t.is(snapshot(pair, node), before);
  }
  t.true(Object.keys(pair.b.core.drops()).length >= 3, JSON.stringify(pair.b.core.drops()));
});

test('mutated or resized initiations are dropped without changing the responder, the genuine one is answered', async (t) => {
  const { initiation, fresh } = await capturedHandshake();
  const b = fresh.b;
  // the genuine initiation was made for another b; build one for this b from this a
  fresh.blocked = true;
  fresh.apply(fresh.a, fresh.a.core.initiateHandshake(b.publicKey));
  const genuine = fresh.sent[0]!.bytes;
  const before = snapshot(fresh, b);
  fc.assert(
    fc.property(
      fc.array(fc.record({ offset: fc.integer({ min: 0, max: 131 }), xor: fc.integer({ min: 1, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.option(fc.integer({ min: 0, max: 300 }), { freq: 4 }),
      (mutations, resizeTo) => {
        const input = mutate(genuine, mutations, resizeTo === 148 ? null : resizeTo);
        fc.pre(!sameBytes(input, genuine)); // two mutations may cancel out
        return b.core.receiveHandshake(input, fresh.a.endpoint, false).length === 0;
      },
    ),
    { numRuns: 300 },
  );
  t.is(snapshot(fresh, b), before);
  t.is(
    b.core.receiveHandshake(initiation, fresh.a.endpoint, false).length,
    0,
    'an initiation made for another responder fails mac1',
  );
  t.true(b.core.receiveHandshake(genuine, fresh.a.endpoint, false).some((o) => o.kind === 'send'));
  t.is(b.core.receiveHandshake(genuine, fresh.a.endpoint, false).length, 0, 'and its replay is dropped');
});

test('mutated responses are dropped without changing the initiator, the genuine one completes the handshake', async (t) => {
  const { pair, response } = await capturedHandshake();
  const before = snapshot(pair, pair.a);
  fc.assert(
    fc.property(
      fc.array(fc.record({ offset: fc.integer({ min: 0, max: 75 }), xor: fc.integer({ min: 1, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.option(fc.integer({ min: 0, max: 200 }), { freq: 4 }),
      fc.boolean(),
      (mutations, resizeTo, underLoad) => {
        const input = mutate(response, mutations, resizeTo === 92 ? null : resizeTo);
        fc.pre(!sameBytes(input, response)); // two mutations may cancel out
        return pair.a.core.receiveHandshake(input, pair.b.endpoint, underLoad).every((o) => o.kind === 'sendTo');
      },
    ),
    { numRuns: 300 },
  );
  t.is(snapshot(pair, pair.a), before);
  const outputs = pair.a.core.receiveHandshake(response, pair.b.endpoint, false);
  t.true(outputs.some((o) => o.kind === 'handshakeComplete'));
  t.deepEqual(
    pair.a.core.receiveHandshake(response, pair.b.endpoint, false),
    [],
    'a replayed response finds no pending handshake',
  );
});

test('an initiation with a valid mac1 but a body that fails its AEAD is dropped as static-decrypt', async (t) => {
  const pair = await Pair.create();
  const bytes = crypto.getRandomValues(new Uint8Array(148));
  bytes.set([1, 0, 0, 0]);
  new CookieGenerator(pair.b.publicKey).addMacs(bytes, 0);
  const before = snapshot(pair, pair.b);
  t.deepEqual(pair.b.core.receiveHandshake(bytes, pair.a.endpoint, false), []);
  t.is(pair.b.drops.at(-1)!.reason, 'static-decrypt');
  t.is(snapshot(pair, pair.b), before);
});

test('a response with a valid mac1 to an unknown receiver index is dropped as unknown-index', async (t) => {
  const pair = await Pair.create();
  const bytes = serializeResponse({
    senderIndex: 1,
    receiverIndex: 12345,
    unencryptedEphemeral: new Uint8Array(32).fill(9),
    encryptedNothing: new Uint8Array(16),
  });
  new CookieGenerator(pair.a.publicKey).addMacs(bytes, 0);
  t.deepEqual(pair.a.core.receiveHandshake(bytes, pair.b.endpoint, false), []);
  t.is(pair.a.drops.at(-1)!.reason, 'unknown-index');
});

test('cookie replies to unknown indices or that do not decrypt are dropped', async (t) => {
  const { pair } = await capturedHandshake();
  const reply = new Uint8Array(64);
  reply.set([3, 0, 0, 0]);
  t.deepEqual(pair.a.core.receiveHandshake(reply, pair.b.endpoint, false), []);
  t.is(pair.a.drops.at(-1)!.reason, 'unknown-index');
  const pendingIndex = new DataView(pair.sent[0]!.bytes.buffer).getUint32(4, true);
  new DataView(reply.buffer).setUint32(4, pendingIndex, true);
  t.deepEqual(pair.a.core.receiveHandshake(reply, pair.b.endpoint, false), []);
  t.is(pair.a.drops.at(-1)!.reason, 'cookie-decrypt');
});

test('transport messages, non-byte input and unparseable sources never throw', async (t) => {
  const pair = await Pair.create();
  const transport = new Uint8Array(48);
  transport[0] = 4;
  t.deepEqual(pair.b.core.receiveHandshake(transport, pair.a.endpoint, false), []);
  t.is(pair.b.drops.at(-1)!.reason, 'transport-not-handshake');
  t.deepEqual(pair.b.core.receiveHandshake(null as unknown as Uint8Array, pair.a.endpoint, false), []);
  pair.blocked = true;
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  t.deepEqual(pair.b.core.receiveHandshake(pair.sent[0]!.bytes, { address: 'not an address', port: -1 }, true), []);
  t.is(pair.b.drops.at(-1)!.reason, 'bad-source');
  t.deepEqual(pair.b.core.tick([null as unknown as never, { publicKey: new Uint8Array(3) } as unknown as never]), []);
});

test('without a private key every initiation is dropped', async (t) => {
  const pair = await Pair.create();
  pair.blocked = true;
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  pair.b.core.setPrivateKey(null);
  t.deepEqual(pair.b.core.receiveHandshake(pair.sent[0]!.bytes, pair.a.endpoint, false), []);
  t.is(pair.b.drops.at(-1)!.reason, 'no-identity');
  t.deepEqual(pair.b.core.initiateHandshake(pair.a.publicKey), [], 'and none is sent');
});

test('API misuse throws a typed error naming the field and changes nothing', async (t) => {
  const pair = await Pair.create();
  const before = snapshot(pair, pair.a);
  t.throws(() => pair.a.core.upsertPeer(new Uint8Array(31)), { message: /public_key/ });
  t.throws(() => pair.a.core.upsertPeer(pair.b.publicKey, { presharedKey: new Uint8Array(5) }), {
    message: /preshared_key/,
  });
  t.throws(() => pair.a.core.upsertPeer(pair.b.publicKey, { persistentKeepalive: 70000 }), {
    message: /persistent_keepalive_interval/,
  });
  t.throws(() => pair.a.core.setPrivateKey(new Uint8Array(12)), { message: /private_key/ });
  t.is(snapshot(pair, pair.a), before);
  t.deepEqual(pair.a.core.publicKey, pair.a.publicKey);
});
