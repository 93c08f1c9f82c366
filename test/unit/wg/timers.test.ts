/**
 * One scenario per timer constant of the protocol paper, under the fake
 * clock: the core is ticked just before and just after each deadline with
 * activity reports as the data plane would send them.
 */
import test from 'ava';
import { kinds, Pair } from './helpers/pair.js';
import type { Node } from './helpers/pair.js';
import type { Output, PeerActivity } from '../../../src/wg/protocol.js';
import {
  KEEPALIVE_TIMEOUT,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_ON_RECEIVE_AFTER,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
  NEW_HANDSHAKE_AFTER,
  ZERO_KEYS_AFTER,
  INITIATION_FLOOD_INTERVAL,
} from '../../../src/wg/constants.js';

const JITTER = REKEY_TIMEOUT_JITTER_MAX - 1;

/** A session a → b (a initiated), with the clock at the moment the keypairs were made. */
async function established() {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  return { pair, createdAt: pair.clock.monotonic };
}

function activity(pair: Pair, node: Node, fields: Partial<PeerActivity>): PeerActivity {
  return {
    publicKey: pair.other(node).publicKey,
    lastDataSentAt: null,
    lastDataReceivedAt: null,
    lastAuthenticatedSentAt: null,
    lastAuthenticatedReceivedAt: null,
    sendCounter: 0n,
    wantsHandshake: false,
    confirmedNextKeypair: false,
    ...fields,
  };
}

/** Sets the clock to `at` and ticks `node` with the given report; returns its outputs. */
function tickAt(pair: Pair, node: Node, at: number, report?: Partial<PeerActivity>): Output[] {
  pair.clock.advance(at - pair.clock.monotonic);
  return node.core.tick(report ? [activity(pair, node, report)] : []);
}

const initiations = (outputs: Output[]) => outputs.filter((o) => o.kind === 'send' && o.bytes.length === 148);

test('REKEY_AFTER_TIME: the initiator sending on a 120 s old keypair starts a handshake, not before', async (t) => {
  const { pair, createdAt } = await established();
  const before = createdAt + REKEY_AFTER_TIME - 1;
  t.deepEqual(
    initiations(tickAt(pair, pair.a, before, { lastDataSentAt: before, lastAuthenticatedSentAt: before })),
    [],
  );
  const at = createdAt + REKEY_AFTER_TIME;
  t.is(initiations(tickAt(pair, pair.a, at, { lastDataSentAt: at, lastAuthenticatedSentAt: at })).length, 1);
});

test('REKEY_AFTER_TIME: the responder does not rekey on time', async (t) => {
  const { pair, createdAt } = await established();
  const at = createdAt + REKEY_AFTER_TIME + 1000;
  t.deepEqual(initiations(tickAt(pair, pair.b, at, { lastDataSentAt: at, lastAuthenticatedSentAt: at })), []);
});

test('REKEY_AFTER_MESSAGES: sending beyond 2^60 messages on a keypair starts a handshake', async (t) => {
  const { pair, createdAt } = await established();
  const t1 = createdAt + 1000;
  t.deepEqual(
    initiations(
      tickAt(pair, pair.b, t1, { lastAuthenticatedSentAt: t1, lastDataSentAt: t1, sendCounter: REKEY_AFTER_MESSAGES }),
    ),
    [],
  );
  const t2 = createdAt + 2000;
  t.is(
    initiations(
      tickAt(pair, pair.b, t2, {
        lastAuthenticatedSentAt: t2,
        lastDataSentAt: t2,
        sendCounter: REKEY_AFTER_MESSAGES + 1n,
      }),
    ).length,
    1,
    'either role rekeys on messages',
  );
});

test('REJECT_AFTER_TIME: a keypair is removed from the data plane at 180 s, not before', async (t) => {
  const { pair, createdAt } = await established();
  const current = pair.a.core.peerStatus(pair.b.publicKey)!.keypairs.current;
  t.false(kinds(tickAt(pair, pair.a, createdAt + REJECT_AFTER_TIME - 1)).includes('removeKeypair'));
  const outputs = tickAt(pair, pair.a, createdAt + REJECT_AFTER_TIME);
  t.deepEqual(
    outputs.filter((o) => o.kind === 'removeKeypair'),
    [{ kind: 'removeKeypair', peer: pair.b.publicKey, localIndex: current! }],
  );
  t.is(pair.a.core.peerStatus(pair.b.publicKey)!.keypairs.current, null);
});

test('REJECT_AFTER_MESSAGES: a keypair whose counter reaches 2^64 - 2^13 - 1 is removed', async (t) => {
  const { pair, createdAt } = await established();
  t.false(
    kinds(tickAt(pair, pair.a, createdAt + 10, { sendCounter: REJECT_AFTER_MESSAGES - 1n })).includes('removeKeypair'),
  );
  t.true(kinds(tickAt(pair, pair.a, createdAt + 20, { sendCounter: REJECT_AFTER_MESSAGES })).includes('removeKeypair'));
});

test('REKEY_TIMEOUT: an unanswered initiation is retransmitted after 5 s plus up to 333 ms of jitter', async (t) => {
  const pair = await Pair.create();
  const start = pair.clock.monotonic;
  const first = initiations(pair.a.core.initiateHandshake(pair.b.publicKey));
  t.is(first.length, 1);
  t.deepEqual(initiations(tickAt(pair, pair.a, start + REKEY_TIMEOUT - 1)), []);
  let retransmittedAt: number | null = null;
  for (let at = start + REKEY_TIMEOUT; at <= start + REKEY_TIMEOUT + JITTER && retransmittedAt === null; at++) {
    const sent = initiations(tickAt(pair, pair.a, at));
    if (sent.length > 0) {
      retransmittedAt = at;
      t.notDeepEqual(
        sent[0]!.kind === 'send' && sent[0]!.bytes.subarray(4, 8),
        first[0]!.kind === 'send' && first[0]!.bytes.subarray(4, 8),
        'a new sender index',
      );
    }
  }
  t.not(retransmittedAt, null, 'retransmitted within the jitter bound');
  t.is(
    pair.a.core.initiateHandshake(pair.b.publicKey).length,
    0,
    'initiations are rate limited to one per REKEY_TIMEOUT',
  );
});

test('REKEY_ATTEMPT_TIME: retries stop after 90 s and the queued packets are dropped', async (t) => {
  const pair = await Pair.create();
  const start = pair.clock.monotonic;
  pair.a.core.initiateHandshake(pair.b.publicKey);
  let count = 1;
  let gaveUpAt: number | null = null;
  for (let at = start + 100; at <= start + REKEY_ATTEMPT_TIME + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX; at += 100) {
    const outputs = tickAt(pair, pair.a, at);
    count += initiations(outputs).length;
    if (kinds(outputs).includes('dropQueued')) {
      t.is(gaveUpAt, null, 'gives up once');
      gaveUpAt = at;
    }
    if (gaveUpAt !== null && at > gaveUpAt) t.deepEqual(initiations(outputs), [], 'no initiation after giving up');
  }
  t.truthy(gaveUpAt);
  t.true(gaveUpAt! - start >= REKEY_ATTEMPT_TIME, `gave up after ${gaveUpAt! - start} ms`);
  t.true(count >= 17 && count <= 18, `${count} initiations`);
  t.false(pair.a.core.peerStatus(pair.b.publicKey)!.handshakeInProgress);
});

test('KEEPALIVE_TIMEOUT: data received and nothing sent for 10 s sends a keepalive', async (t) => {
  const { pair, createdAt } = await established();
  const received = createdAt + 1000;
  t.deepEqual(
    tickAt(pair, pair.b, received, { lastDataReceivedAt: received, lastAuthenticatedReceivedAt: received }),
    [],
  );
  t.false(kinds(tickAt(pair, pair.b, received + KEEPALIVE_TIMEOUT - 1)).includes('sendKeepalive'));
  t.deepEqual(kinds(tickAt(pair, pair.b, received + KEEPALIVE_TIMEOUT)), ['sendKeepalive']);
  t.false(kinds(tickAt(pair, pair.b, received + KEEPALIVE_TIMEOUT + 100)).includes('sendKeepalive'), 'once');
});

test('KEEPALIVE_TIMEOUT: no keepalive when something was sent back in time', async (t) => {
  const { pair, createdAt } = await established();
  const received = createdAt + 1000;
  tickAt(pair, pair.b, received, { lastDataReceivedAt: received, lastAuthenticatedReceivedAt: received });
  tickAt(pair, pair.b, received + 3000, { lastDataSentAt: received + 3000, lastAuthenticatedSentAt: received + 3000 });
  t.false(kinds(tickAt(pair, pair.b, received + KEEPALIVE_TIMEOUT + 1000)).includes('sendKeepalive'));
});

test('KEEPALIVE + REKEY_TIMEOUT: data sent and nothing received for 15 s (plus jitter) starts a handshake', async (t) => {
  const { pair, createdAt } = await established();
  const sent = createdAt + 1000;
  tickAt(pair, pair.a, sent, { lastDataSentAt: sent, lastAuthenticatedSentAt: sent });
  t.deepEqual(initiations(tickAt(pair, pair.a, sent + NEW_HANDSHAKE_AFTER - 1)), []);
  t.is(initiations(tickAt(pair, pair.a, sent + NEW_HANDSHAKE_AFTER + JITTER)).length, 1);
});

test('KEEPALIVE + REKEY_TIMEOUT: a reply in time cancels the new handshake', async (t) => {
  const { pair, createdAt } = await established();
  const sent = createdAt + 1000;
  tickAt(pair, pair.a, sent, { lastDataSentAt: sent, lastAuthenticatedSentAt: sent });
  tickAt(pair, pair.a, sent + 5000, { lastAuthenticatedReceivedAt: sent + 5000 });
  t.deepEqual(initiations(tickAt(pair, pair.a, sent + NEW_HANDSHAKE_AFTER + JITTER + 1000)), []);
});

test('REJECT - KEEPALIVE - REKEY_TIMEOUT: the initiator receiving on a 165 s old keypair rekeys', async (t) => {
  const { pair, createdAt } = await established();
  const before = createdAt + REKEY_ON_RECEIVE_AFTER - 1;
  t.deepEqual(initiations(tickAt(pair, pair.a, before, { lastAuthenticatedReceivedAt: before })), []);
  const at = createdAt + REKEY_ON_RECEIVE_AFTER;
  t.is(initiations(tickAt(pair, pair.a, at, { lastAuthenticatedReceivedAt: at })).length, 1);
  const b = createdAt + REKEY_ON_RECEIVE_AFTER;
  t.deepEqual(
    initiations(tickAt(pair, pair.b, b + 1, { lastAuthenticatedReceivedAt: b + 1 })),
    [],
    'not the responder',
  );
});

test('persistent keepalive: turning it on sends one at once, then one per interval of silence', async (t) => {
  const { pair } = await established();
  t.deepEqual(kinds(pair.a.core.upsertPeer(pair.b.publicKey, { persistentKeepalive: 25 })), ['sendKeepalive']);
  t.deepEqual(
    kinds(pair.a.core.upsertPeer(pair.b.publicKey, { persistentKeepalive: 25 })),
    [],
    'unchanged: nothing sent',
  );
  const from = pair.clock.monotonic;
  t.false(kinds(tickAt(pair, pair.a, from + 25_000 - 1)).includes('sendKeepalive'));
  t.true(kinds(tickAt(pair, pair.a, from + 25_000)).includes('sendKeepalive'));
  t.false(kinds(tickAt(pair, pair.a, from + 25_100)).includes('sendKeepalive'));
  t.true(kinds(tickAt(pair, pair.a, from + 50_000)).includes('sendKeepalive'));
});

test('persistent keepalive without a session starts a handshake at once', async (t) => {
  const pair = await Pair.create();
  t.is(initiations(pair.a.core.upsertPeer(pair.b.publicKey, { persistentKeepalive: 25 })).length, 1);
});

test('3 x REJECT_AFTER_TIME: without a new handshake all key material is zeroed after 540 s', async (t) => {
  const { pair, createdAt } = await established();
  let expiredAt: number | null = null;
  for (let at = createdAt + 10_000; at <= createdAt + ZERO_KEYS_AFTER + 10_000 && expiredAt === null; at += 10_000) {
    if (kinds(tickAt(pair, pair.a, at)).includes('expireKeypairs')) expiredAt = at;
  }
  t.is(expiredAt, createdAt + ZERO_KEYS_AFTER);
  t.false(kinds(tickAt(pair, pair.a, createdAt + ZERO_KEYS_AFTER + 1000)).includes('expireKeypairs'), 'once');
});

test('INITIATION_FLOOD_INTERVAL and TAI64N: a replayed initiation and one within 20 ms of the last are dropped', async (t) => {
  const pair = await Pair.create();
  pair.blocked = true;
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  pair.run(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
  pair.run(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
  const sent = pair.sent.filter((d) => d.bytes.length === 148).map((d) => d.bytes);
  t.true(sent.length >= 3);
  const receive = (bytes: Uint8Array) => pair.b.core.receiveHandshake(bytes, pair.a.endpoint, false);
  t.true(kinds(receive(sent[1]!)).includes('send'), 'the second initiation is answered');
  t.deepEqual(receive(sent[1]!), [], 'its replay is dropped');
  t.deepEqual(receive(sent[0]!), [], 'an older one is dropped');
  t.deepEqual(
    pair.b.drops.map((d) => d.reason),
    ['stale-timestamp', 'stale-timestamp'],
  );
  pair.clock.advance(INITIATION_FLOOD_INTERVAL - 1);
  t.deepEqual(receive(sent[2]!), [], 'a newer one within 20 ms is a flood');
  t.is(pair.b.drops.at(-1)!.reason, 'initiation-flood');
  pair.clock.advance(1);
  t.true(kinds(receive(sent[2]!)).includes('send'), 'at 20 ms it is answered');
});

test('under load a source over 20 initiations per second (burst 5) is rate limited', async (t) => {
  const pair = await Pair.create();
  pair.b.underLoad = true;
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  pair.pump(); // cookie reply: a now makes mac2
  pair.blocked = true;
  for (let i = 0; i < 7; i++) pair.run(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX);
  const withMac2 = pair.sent
    .filter((d) => d.bytes.length === 148)
    .slice(1)
    .map((d) => d.bytes);
  t.true(withMac2.length >= 6);
  for (const bytes of withMac2) pair.b.core.receiveHandshake(bytes, pair.a.endpoint, true);
  const reasons = pair.b.drops.map((d) => d.reason);
  t.true(reasons.includes('rate-limited'), reasons.join(','));
  t.is(reasons.filter((r) => r === 'rate-limited').length, withMac2.length - 5);
});
