// changedPeerStats, the data plane's report to the device's tick: between two namespaces with
// keypairs installed by hand, an idle device with many peers reports none of them, traffic makes
// exactly the peer that carried it reappear (once), and peerStats() (what `wg show` reads) still
// lists every peer without consuming the changes.
import test from 'ava';

import { INNER_B, PEER_OF_A, installMatching, keyPair, makeWorld, ping } from './dataplane-world.js';

const IDLE_PEERS = 200;

test('changedPeerStats reports nothing for idle peers and exactly the peer that carried traffic, once', async (t) => {
  const w = await makeWorld(t);
  installMatching(w, keyPair(), { aInitiator: true, bInitiator: true });
  // Idle peers beside B, each with an endpoint and allowed IPs in A's namespace-free space.
  for (let id = 100; id < 100 + IDLE_PEERS; id++) {
    w.a.dp.setPeer(id, {
      endpoint: { address: '203.0.113.1', port: id },
      allowedIps: [{ address: `10.${id - 100}.0.0`, prefix: 16 }],
    });
  }
  w.a.dp.changedPeerStats(); // whatever setup moved is now reported
  t.deepEqual(w.a.dp.changedPeerStats(), [], 'an idle device reports no peer');
  t.is(w.a.dp.peerStats().length, IDLE_PEERS + 1, 'peerStats still lists every peer');

  const before = w.a.dp.peerStats().find((s) => s.peerId === PEER_OF_A)!;
  t.true(await ping(w.a, INNER_B), 'A pings B');
  const changed = w.a.dp.changedPeerStats();
  t.deepEqual(
    changed.map((s) => s.peerId),
    [PEER_OF_A],
    'only the peer that carried the pings',
  );
  t.true(changed[0]!.txBytes > before.txBytes && changed[0]!.rxBytes > before.rxBytes);
  t.true(changed[0]!.sendCounter > before.sendCounter);
  t.deepEqual(w.a.dp.changedPeerStats(), [], 'reported once: nothing moved since');
});
