/**
 * The core skips peers whose earliest deadline has not come (so a tick over 10,000 idle peers
 * does no per-peer work). These scenarios prove that skipping changes nothing: the deadline the
 * core keeps is exactly the first moment a timer or keypair expiry fires, across many timer
 * states, and under a fake clock timers of one peer among many fire at their deadline, not a
 * tick early or late. Jitter is injected, and drawn only when a timer is armed.
 */
import test from 'ava';
import { DH_GENERATE, DH_PUBLIC, ready } from '../../../src/wg/crypto.js';
import { WireGuardProtocol, type Output, type PeerActivity } from '../../../src/wg/protocol.js';
import {
  dueTimers,
  isKeypairExpired,
  keypairExpiresAt,
  newPeerTimers,
  nextTimerDueAt,
  type PeerTimers,
} from '../../../src/wg/timers.js';
import {
  KEEPALIVE_TIMEOUT,
  NEW_HANDSHAKE_AFTER,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_TIMEOUT,
} from '../../../src/wg/constants.js';

/** A small deterministic PRNG (mulberry32), so a failing state can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTimers(next: () => number): PeerTimers {
  const maybe = (): number | null => (next() < 0.4 ? null : 1_000_000 + Math.floor(next() * 600_000));
  const t = newPeerTimers();
  t.lastAuthenticatedSentAt = maybe();
  t.lastAuthenticatedReceivedAt = maybe();
  t.lastDataSentAt = maybe();
  t.lastDataReceivedAt = maybe();
  t.lastTraversalAt = maybe();
  t.unansweredReceiveSince = maybe();
  t.unansweredSendSince = maybe();
  t.newHandshakeAt = maybe();
  t.attemptStartedAt = maybe();
  t.retransmitAt = maybe();
  t.lastInitiationSentAt = maybe();
  t.zeroKeysAt = maybe();
  return t;
}

test('nextTimerDueAt is the first millisecond at which dueTimers fires, over 20,000 random timer states', (t) => {
  const next = prng(20_251_122);
  let finite = 0;
  for (let i = 0; i < 20_000; i++) {
    const timers = randomTimers(next);
    const keepaliveMs = next() < 0.5 ? 0 : 1000 * (1 + Math.floor(next() * 120));
    const due = nextTimerDueAt(timers, keepaliveMs);
    if (due === Infinity) {
      if (dueTimers(timers, Number.MAX_SAFE_INTEGER, keepaliveMs).length !== 0)
        t.fail(`state ${i}: a timer fires but nothing was due`);
      continue;
    }
    finite++;
    if (dueTimers(timers, due - 1, keepaliveMs).length !== 0) t.fail(`state ${i}: a timer fires before ${due}`);
    if (dueTimers(timers, due, keepaliveMs).length === 0) t.fail(`state ${i}: nothing fires at ${due}`);
  }
  t.true(finite > 15_000, `${finite} states had a deadline`);
});

test('keypairExpiresAt is the first millisecond a keypair is expired, and now for an exhausted counter', (t) => {
  for (const createdAt of [0, 1_000_000, 1_234_567]) {
    for (const initiator of [true, false]) {
      const k = { createdAt, initiator };
      const at = keypairExpiresAt(k, 5n);
      t.is(at, createdAt + REJECT_AFTER_TIME);
      t.false(isKeypairExpired(k, at - 1, 5n));
      t.true(isKeypairExpired(k, at, 5n));
      t.is(keypairExpiresAt(k, REJECT_AFTER_MESSAGES), -Infinity);
      t.true(isKeypairExpired(k, createdAt, REJECT_AFTER_MESSAGES));
    }
  }
});

interface Fleet {
  clock: { now: number };
  core: WireGuardProtocol;
  peers: Uint8Array[];
  jitterCalls: { count: number };
}

async function fleet(count: number, jitter: number): Promise<Fleet> {
  await ready();
  const clock = { now: 1_000_000 };
  const jitterCalls = { count: 0 };
  const core = new WireGuardProtocol({
    privateKey: DH_GENERATE().privateKey,
    clock: () => clock.now,
    wallClock: () => 1_700_000_000_000 + clock.now,
    jitter: () => {
      jitterCalls.count++;
      return jitter;
    },
  });
  const peers = Array.from({ length: count }, () => DH_PUBLIC(DH_GENERATE().privateKey));
  for (const p of peers) core.upsertPeer(p);
  return { clock, core, peers, jitterCalls };
}

function report(peer: Uint8Array, fields: Partial<PeerActivity>): PeerActivity {
  return {
    publicKey: peer,
    lastDataSentAt: null,
    lastDataReceivedAt: null,
    lastAuthenticatedSentAt: null,
    lastAuthenticatedReceivedAt: null,
    wantsHandshake: false,
    confirmedNextKeypair: false,
    ...fields,
  };
}

const initiationsTo = (outputs: Output[]) =>
  outputs.filter((o) => o.kind === 'send' && o.bytes.length === 148).map((o) => (o as { peer: Uint8Array }).peer);

test('among 2,000 idle peers, one wanting a handshake retransmits at exactly REKEY_TIMEOUT + jitter and no other peer acts', async (t) => {
  const f = await fleet(2_000, 200);
  const target = f.peers[1234]!;
  const start = f.clock.now;
  t.deepEqual(initiationsTo(f.core.tick([report(target, { wantsHandshake: true })])), [target]);
  t.is(f.jitterCalls.count, 1, 'one jitter draw: the retransmission timer was armed');
  f.clock.now = start + REKEY_TIMEOUT + 200 - 1;
  t.deepEqual(f.core.tick(), [], 'nothing 1 ms before the deadline');
  f.clock.now = start + REKEY_TIMEOUT + 200;
  t.deepEqual(initiationsTo(f.core.tick()), [target], 'the retransmission at the deadline, to that peer only');
});

test('reports that arm no timer draw no jitter, and a data send arms the new-handshake timer at exactly its deadline', async (t) => {
  const f = await fleet(500, 111);
  const start = f.clock.now;
  // Received-only reports for every peer: passive keepalives get armed, no jitter is involved.
  t.deepEqual(f.core.tick(f.peers.map((p) => report(p, { lastAuthenticatedReceivedAt: start }))), []);
  t.is(f.jitterCalls.count, 0);
  const target = f.peers[42]!;
  f.clock.now = start + 1;
  // Data sent to one peer after the last thing heard from it: "no reply" timer, jittered.
  t.deepEqual(f.core.tick([report(target, { lastDataSentAt: start + 1, lastAuthenticatedSentAt: start + 1 })]), []);
  t.is(f.jitterCalls.count, 1);
  f.clock.now = start + 1 + NEW_HANDSHAKE_AFTER + 111 - 1;
  t.deepEqual(initiationsTo(f.core.tick()), [], 'not a millisecond early');
  f.clock.now = start + 1 + NEW_HANDSHAKE_AFTER + 111;
  t.deepEqual(initiationsTo(f.core.tick()), [target], 'at the deadline, that peer only');
});

test('among 1,000 idle peers, data received from one arms its passive keepalive at exactly KEEPALIVE_TIMEOUT', async (t) => {
  const f = await fleet(1_000, 0);
  const passivePeer = f.peers[900]!;
  const heard = f.clock.now;
  t.deepEqual(
    f.core.tick([report(passivePeer, { lastDataReceivedAt: heard, lastAuthenticatedReceivedAt: heard })]),
    [],
  );
  f.clock.now = heard + KEEPALIVE_TIMEOUT - 1;
  t.deepEqual(f.core.tick(), [], 'nothing 1 ms early');
  f.clock.now = heard + KEEPALIVE_TIMEOUT;
  // No session to carry a keepalive: like the kernel's queued keepalive, it asks for a handshake.
  t.deepEqual(initiationsTo(f.core.tick()), [passivePeer], 'at 10 s, that peer only');
});
