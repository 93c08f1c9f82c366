// The Dataplane wrapper's contract without namespaces: argument validation
// (clear errors naming the field, nothing changed), peer/allowed-IPs
// semantics through lookup, keypair bookkeeping errors, close. The device is
// given unbound UDP sockets in place of a TUN and underlay: nothing is ever
// readable on them and no peer has an endpoint, so no packet moves.
import test from 'ava';

import { native } from '../../../src/native/binding.js';
import { Dataplane, DataplaneError, monotonicMs } from '../../../src/wg/dataplane.js';

function idleDataplane(): Dataplane {
  const n = native();
  const fds = [0, 1].map(() => n.socketInNetns(null, n.constants.AF_INET, n.constants.SOCK_DGRAM, 0));
  return Dataplane.create({
    tunFd: fds[0]!,
    udp4Fd: fds[1]!,
    udp6Fd: null,
    mtu: 1420,
    onHandshakeMessages: () => {},
    onWantsHandshake: () => {},
  });
}

function errorOf(f: () => unknown): DataplaneError {
  try {
    f();
  } catch (e) {
    if (e instanceof DataplaneError) return e;
    throw e;
  }
  throw new Error('expected a DataplaneError');
}

test('create rejects a bad MTU or missing sockets with an error naming the field', (t) => {
  const base = {
    tunFd: 99,
    udp4Fd: 98,
    udp6Fd: null,
    mtu: 1420,
    onHandshakeMessages: () => {},
    onWantsHandshake: () => {},
  };
  const e1 = errorOf(() => Dataplane.create({ ...base, mtu: 100 }));
  t.is(e1.code, 'INVALID_ARGUMENT');
  t.regex(e1.message, /^mtu: /);
  const e2 = errorOf(() => Dataplane.create({ ...base, udp4Fd: null }));
  t.regex(e2.message, /udp4Fd/);
});

test("setPeer replaces a peer's allowed IPs, moves a prefix between peers, and removePeer removes its entries", (t) => {
  const dp = idleDataplane();
  t.teardown(() => dp.close());
  dp.setPeer(1, {
    allowedIps: [
      { address: '10.0.0.0', prefix: 8 },
      { address: 'fd00::', prefix: 64 },
    ],
  });
  dp.setPeer(2, { allowedIps: [{ address: '10.1.0.0', prefix: 16 }] });
  t.is(dp.lookup('10.1.2.3'), 2);
  t.is(dp.lookup('10.2.2.3'), 1);
  t.is(dp.lookup('fd00::9'), 1);
  t.is(dp.lookup('192.168.0.1'), null);
  dp.setPeer(2, { allowedIps: [{ address: '10.0.0.0', prefix: 8 }] }); // replaces 2's set, takes 10/8 from 1
  t.is(dp.lookup('10.1.2.3'), 2);
  t.is(dp.lookup('10.2.2.3'), 2);
  dp.setPeer(1, { endpoint: { address: '192.0.2.1', port: 51820 } }); // allowedIps untouched
  t.is(dp.lookup('fd00::9'), 1);
  dp.removePeer(1);
  t.is(dp.lookup('fd00::9'), null);
  t.is(dp.lookup('10.2.2.3'), 2);
  t.deepEqual(
    dp.peerStats().map((s) => s.peerId),
    [2],
  );
});

test('changedPeerStats lists a new peer once, then only a peer whose counters moved, and peerStats does not consume changes', (t) => {
  const dp = idleDataplane();
  t.teardown(() => dp.close());
  for (let id = 1; id <= 50; id++) dp.setPeer(id, { allowedIps: [{ address: `10.${id}.0.0`, prefix: 16 }] });
  t.deepEqual(dp.changedPeerStats(), [], 'new peers with all-zero counters are not a change');
  dp.creditRx(7, 148);
  t.is(dp.peerStats().length, 50, 'peerStats lists every peer');
  const changed = dp.changedPeerStats();
  t.deepEqual(
    changed.map((s) => s.peerId),
    [7],
  );
  t.is(changed[0]!.rxBytes, 148);
  t.deepEqual(dp.changedPeerStats(), [], 'nothing moved since the last call');
  dp.creditRx(7, 92);
  dp.creditRx(31, 92);
  t.deepEqual(
    dp
      .changedPeerStats()
      .map((s) => s.peerId)
      .sort((a, b) => a - b),
    [7, 31],
  );
  // A keypair installed and removed is a change of its own (hasCurrentKeypair), counters aside.
  const key = new Uint8Array(32).fill(0xab);
  dp.installKeypair(12, { localIndex: 5, remoteIndex: 6, sendKey: key, receiveKey: key, initiator: true });
  t.deepEqual(
    dp.changedPeerStats().map((s) => [s.peerId, s.hasCurrentKeypair]),
    [[12, true]],
  );
  dp.removeKeypair(12, 5);
  t.deepEqual(
    dp.changedPeerStats().map((s) => [s.peerId, s.hasCurrentKeypair]),
    [[12, false]],
  );
  t.deepEqual(dp.changedPeerStats(), []);
});

test('a bad allowed-IP entry is refused with its index and field named, and the peer keeps its old set', (t) => {
  const dp = idleDataplane();
  t.teardown(() => dp.close());
  dp.setPeer(1, { allowedIps: [{ address: '10.0.0.0', prefix: 8 }] });
  const e = errorOf(() =>
    dp.setPeer(1, {
      allowedIps: [
        { address: '10.9.0.0', prefix: 16 },
        { address: '10.8.0.0', prefix: 33 },
      ],
    }),
  );
  t.is(e.code, 'INVALID_ARGUMENT');
  t.regex(e.message, /^allowedIps\[1\]\.prefix: must be an integer from 0 to 32/);
  const e2 = errorOf(() => dp.setPeer(1, { endpoint: { address: 'not-an-ip', port: 1 } }));
  t.regex(e2.message, /^endpoint\.address: /);
  t.is(dp.lookup('10.9.0.1'), 1, 'the old /8 still answers');
  t.is(dp.peerStats()[0]!.endpoint, null);
});

test('keypair commands: unknown peer, local index in use and unknown keypair are typed errors that never echo a key', (t) => {
  const dp = idleDataplane();
  t.teardown(() => dp.close());
  const key = new Uint8Array(32).fill(0xab);
  const kp = { localIndex: 5, remoteIndex: 6, sendKey: key, receiveKey: key, initiator: true };
  t.is(errorOf(() => dp.installKeypair(9, kp)).code, 'UNKNOWN_PEER');
  dp.setPeer(9, {});
  dp.installKeypair(9, kp);
  t.true(dp.peerStats()[0]!.hasCurrentKeypair);
  dp.setPeer(10, {});
  t.is(errorOf(() => dp.installKeypair(10, kp)).code, 'INDEX_IN_USE');
  const short = errorOf(() => dp.installKeypair(9, { ...kp, localIndex: 7, sendKey: new Uint8Array(31).fill(0xab) }));
  t.regex(short.message, /^sendKey: must be a 32-byte Uint8Array$/);
  t.false(
    JSON.stringify({ m: short.message, c: short.context }).includes('171'),
    'no key byte (0xab = 171) in the error',
  );
  t.is(errorOf(() => dp.removeKeypair(9, 1234)).code, 'UNKNOWN_KEYPAIR');
  dp.removeKeypair(9, 5);
  t.false(dp.peerStats()[0]!.hasCurrentKeypair);
  t.false(dp.sendKeepalive(9), 'no keypair, no endpoint: nothing sent');
});

test('after close every command is a CLOSED error and close is idempotent; monotonicMs is the monotonic clock', (t) => {
  const dp = idleDataplane();
  dp.close();
  dp.close();
  t.is(errorOf(() => dp.setPeer(1, {})).code, 'CLOSED');
  t.is(errorOf(() => dp.peerStats()).code, 'CLOSED');
  // process.hrtime is CLOCK_MONOTONIC too (libuv's uv_hrtime).
  const before = Number(process.hrtime.bigint() / 1_000_000n);
  const a = monotonicMs();
  const after = Number(process.hrtime.bigint() / 1_000_000n);
  t.true(Number.isInteger(a) && a >= before - 1 && a <= after + 1, `${before} <= ${a} <= ${after}`);
});
