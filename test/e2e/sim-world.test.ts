// The simulated world's topology on its own (no networkd): the internet router, the TEST-NET
// who-am-I server, public nodes on 198.51.100.1N and hidden nodes behind NAT routers — and a
// teardown that leaves no namespace of the run behind. The e2e scenarios build on these facts.
import test from 'ava';
import { existsSync } from 'node:fs';
import { namespacesWithPrefix } from '../harness/index.js';
import { SimWorld } from '../../src/sim/world.js';
import { startTcpListener, tcpProbe } from '../../src/sim/probes.js';

test('public nodes reach the TEST-NET server from their own address, hidden nodes from their NAT address, and nothing is left after teardown', async (t) => {
  const world = await SimWorld.create([{ id: 'alpha' }, { id: 'hid1', hidden: true }], { startNetworkd: false });
  const prefix = world.prefix;
  let dir = '';
  try {
    const [alpha, hid1] = [world.node('alpha'), world.node('hid1')];
    t.is(alpha.uplinkAddress, '198.51.100.11');
    t.is(hid1.publicAddress, '192.0.2.10');
    dir = alpha.stateDir;
    t.true(existsSync(alpha.identityKeyFile), 'zmesh node init wrote the identity');
    t.deepEqual(await world.egress(alpha.host), { ok: true, source: '198.51.100.11' });
    t.deepEqual(await world.egress(hid1.host), { ok: true, source: '192.0.2.10' });
    t.deepEqual(world.serverSawSources(), ['198.51.100.11', '192.0.2.10']);

    // The internet can open connections to a public node, not to a hidden one (the NAT drops them).
    await startTcpListener(alpha.host, '0.0.0.0', 7001);
    await startTcpListener(hid1.host, '0.0.0.0', 7001);
    t.is(await tcpProbe(world.internet, alpha.uplinkAddress, 7001), 'connected');
    await world.internet.addRoute('10.200.2.0/24', { via: hid1.publicAddress });
    t.is(await tcpProbe(world.internet, hid1.uplinkAddress, 7001, 1_000), 'timeout');
  } finally {
    await world.teardown();
  }
  t.deepEqual(namespacesWithPrefix(prefix), []);
  t.false(existsSync(dir), 'the private directory with the identity keys is removed');
});

test("a node whose networkd died just before teardown (a terminal's Ctrl-C) counts as torn down once nothing is left", async (t) => {
  const world = await SimWorld.create([{ id: 'alpha' }]);
  const prefix = world.prefix;
  const alpha = world.node('alpha');
  try {
    const net = await world.createNetwork('gone', '10.5.0.0/16', [alpha]);
    await world.deploy(net);
    t.true(alpha.ownedNamespaces().length >= 2, 'networkd made its ndmz and NR');
  } catch (e) {
    await world.teardown().catch(() => undefined);
    throw e;
  }
  // Killed without waiting: teardown's DELETE meets a socket nobody answers on.
  process.kill(alpha.networkd!.pid, 'SIGKILL');
  await t.notThrowsAsync(world.teardown());
  t.deepEqual(alpha.leftovers(), []);
  t.deepEqual(namespacesWithPrefix(prefix), []);
});
