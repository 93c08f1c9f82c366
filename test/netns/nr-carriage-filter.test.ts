// Failover's in-band channel cannot be forged from a workload. An announcement is trusted by its
// source address (the aggregator's WireGuard address, which WireGuard ties to that peer's key on
// the tunnel); a workload on the NR's bridge can write any source address it likes. Two real NRs
// on two simulated nodes: an announcement from b's NR over the tunnel reaches a's channel; the same
// datagram forged by a workload on a's bridge (b's WireGuard address as its source, sent while a
// has a flow open to b's channel, so conntrack would call it a reply) does not. The control on
// another port shows the forged datagram does reach a's input hook: the NR's table is what stops it.
import dgram from 'node:dgram';
import test from 'ava';
import { CARRIAGE_PORT } from '../../src/netdef/index.js';
import { native } from '../../src/native/binding.js';
import { CarriageChannel } from '../../src/networkd/carriage-channel.js';
import { worldFor } from '../harness/ava.js';
import { waitFor } from '../harness/index.js';
import { buildNetwork, initKeys, nodeInput } from '../unit/nr/fixtures.js';
import { probeWorkload } from './access-flows.js';
import { simNode } from './nr-world.js';

test.before(initKeys);

const CONTROL_PORT = CARRIAGE_PORT + 1;

/** Sends `message` from `source`:`sourcePort` to `to`:`port`, five times, from inside the calling namespace's node. */
const FORGE =
  "const [source, sourcePort, to, port, message] = process.argv.slice(1); const s = require('node:dgram').createSocket('udp4');" +
  's.bind({ address: source, port: Number(sourcePort) }, async () => { for (let i = 0; i < 5; i++) {' +
  ' await new Promise((r) => s.send(message, Number(port), to, r)); await new Promise((r) => setTimeout(r, 50)); } s.close(); });';

test('an announcement forged by a workload on the NR bridge is dropped; the same one over the tunnel is heard', async (t) => {
  const w = await worldFor(t);
  const [a, b] = [await simNode(t, w, 'a'), await simNode(t, w, 'b')];
  await w.link(a.ns, 'uplink', b.ns, 'uplink', { addressA: '198.51.100.11/24', addressB: '198.51.100.12/24' });
  const net = buildNetwork(`car-${w.prefix}`, '10.1.0.0/16', [
    { id: 'a', hidden: false, host: '198.51.100.11' },
    { id: 'b', hidden: false, host: '198.51.100.12' },
  ]);
  const inputs = { a: nodeInput(net, 'a', { prefix: a.prefix }), b: nodeInput(net, 'b', { prefix: b.prefix }) };
  await a.nr.applyNr(inputs.a.resource, inputs.a.ctx);
  await b.nr.applyNr(inputs.b.resource, inputs.b.ctx);
  const netId = inputs.a.resource.netId;
  const nrOf = (prefix: string) => `/run/netns/${prefix}n-${netId}`;
  const [aWg, bWg] = [inputs.a.resource.wgAddress, inputs.b.resource.wgAddress];

  const log: string[] = [];
  const channelA = CarriageChannel.open(nrOf(a.prefix), netId, aWg, (m) => log.push(m));
  const channelB = CarriageChannel.open(nrOf(b.prefix), netId, bWg, (m) => log.push(m));
  t.teardown(() => [channelA, channelB].forEach((c) => c.close()));
  channelA.allow(new Map([['b', bWg]]));

  // Over the tunnel: heard (b announces until a has it; the first datagram starts the handshake).
  await waitFor(
    () => {
      channelB.announce(aWg, 'b', [{ hidden: 'hid1', forMs: 0 }]);
      return channelA.drain().length > 0;
    },
    { what: "b's announcement over the tunnel", timeoutMs: 15_000, intervalMs: 200 },
  );

  // a's own datagram to b's channel: conntrack now holds a flow a reply to which would be accepted.
  channelA.announce(bWg, 'a', []);
  const control = native().inNetns(nrOf(a.prefix), () => {
    const socket = dgram.createSocket({
      type: 'udp4',
      lookup: (host, _options, callback) => (callback as (e: null, a: string, f: number) => void)(null, host, 4),
    });
    socket.bind({ address: aWg, port: CONTROL_PORT });
    return socket;
  });
  t.teardown(() => control.close());
  const controlHeard: string[] = [];
  control.on('message', (data, remote) => controlHeard.push(`${remote.address} ${data}`));

  // The workload takes b's WireGuard address as its own and sends from it.
  const workload = await probeWorkload(w, a, netId, 'a', 0, [8080]);
  await workload.ns.addAddress('eth0', `${bWg}/32`);
  const forged = JSON.stringify({ v: 1, net: netId, from: 'b', carries: [{ hidden: 'hid2', forMs: 0 }] });
  await workload.ns.exec('node', ['-e', FORGE, bWg, String(CARRIAGE_PORT), aWg, String(CONTROL_PORT), forged]);
  await waitFor(() => controlHeard.length > 0, { what: 'the forged datagram on the control port', timeoutMs: 5_000 });
  t.true(
    controlHeard.every((m) => m.startsWith(`${bWg} `)),
    'the forged source address reaches the NR (no reverse-path filter stops it)',
  );
  await workload.ns.exec('node', ['-e', FORGE, bWg, String(CARRIAGE_PORT), aWg, String(CARRIAGE_PORT), forged]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const forgedHeard = channelA.drain().filter((heard) => heard.carries.some((c) => c.hidden === 'hid2'));
  t.deepEqual(forgedHeard, [], 'the forged announcement never reaches the channel');

  // And the tunnel still works after it.
  await waitFor(
    () => {
      channelB.announce(aWg, 'b', [{ hidden: 'hid1', forMs: 100 }]);
      return channelA.drain().length > 0;
    },
    { what: "b's announcement after the forgery", timeoutMs: 5_000, intervalMs: 200 },
  );
  t.deepEqual(log, []);
});
