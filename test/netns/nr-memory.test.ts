// What NetworkResources remembers between applies (namespace watches, nft generation, confirmed
// WireGuard configurations) never hides a change: drift made behind its back with ip(8), nft(8)
// or wgd itself is seen and repaired by the very next apply, and a steady no-op reads neither
// the namespaces' dumps nor the WireGuard device. Real namespaces, real wgd.
import test from 'ava';
import { worldFor } from '../harness/ava.js';
import {
  diffNr,
  NetworkResources,
  planNr,
  UserspaceWgBackend,
  type ApplyReport,
  type WgDeviceStatus,
} from '../../src/nr/index.js';
import { buildNetwork, initKeys, nodeInput, type TestNetwork } from '../unit/nr/fixtures.js';
import { inNetns, simNode, stepKinds, type SimNode } from './nr-world.js';

test.before(initKeys);

const IP = '/usr/sbin/ip';
const NFT = '/usr/sbin/nft';

function network(name: string): TestNetwork {
  return buildNetwork(name, '10.1.0.0/16', [
    { id: 'a', hidden: false, host: '198.51.100.11' },
    { id: 'b', hidden: false, host: '198.51.100.12' },
  ]);
}

/** The real userspace backend, counting how often the device is read over UAPI. */
class CountingBackend extends UserspaceWgBackend {
  reads = 0;
  override async status(name: string): Promise<WgDeviceStatus | null> {
    this.reads++;
    return super.status(name);
  }
}

interface Subject {
  readonly node: SimNode;
  readonly nr: NetworkResources;
  readonly wg: CountingBackend;
  readonly apply: () => Promise<ApplyReport>;
  readonly converged: () => Promise<boolean>;
  readonly netId: string;
}

async function subject(t: import('ava').ExecutionContext): Promise<Subject> {
  const w = await worldFor(t);
  const node = await simNode(t, w, 'm');
  const wg = new CountingBackend({ wgd: node.wgd });
  const nr = new NetworkResources({ prefix: node.prefix, wg, hostNetns: node.ns.path });
  t.teardown(() => nr.close());
  const { resource, ctx } = nodeInput(network(`mem-${w.prefix}`), 'a', { prefix: node.prefix });
  return {
    node,
    nr,
    wg,
    netId: resource.netId,
    apply: () => nr.applyNr(resource, ctx),
    // A full, fresh read (inspectNr remembers nothing) compared with the plan.
    converged: async () =>
      diffNr(planNr(resource, { ...ctx, prefix: node.prefix }), await node.nr.inspectNr(resource.netId)).length === 0,
  };
}

test.serial(
  'after steady no-ops, drift made with ip(8) and nft(8) in the NR and in ndmz (links and a table deleted too) is repaired by the next apply',
  async (t) => {
    const s = await subject(t);
    const nrNs = `${s.node.prefix}n-${s.netId}`;
    const ndmz = `${s.node.prefix}ndmz`;
    t.true((await s.apply()).steps.length > 0);
    t.deepEqual((await s.apply()).steps, [], 'first no-op');
    t.deepEqual((await s.apply()).steps, [], 'steady no-op (from memory)');

    await inNetns(nrNs, IP, ['addr', 'del', '10.1.0.1/24', 'dev', 'br0']);
    t.true(stepKinds(await s.apply()).includes('add-address'), 'a deleted address is put back');
    t.true(await s.converged());

    await inNetns(nrNs, IP, ['route', 'del', 'default']);
    t.deepEqual(stepKinds(await s.apply()), ['replace-route'], 'a deleted default route is put back');

    await inNetns(ndmz, IP, ['link', 'set', `p-${s.netId}`, 'mtu', '1400']);
    t.deepEqual(stepKinds(await s.apply()), ['set-link'], "the NR's port in ndmz gets its MTU back");

    await inNetns(nrNs, NFT, ['add', 'rule', 'inet', 'zmesh', 'input', 'accept']);
    t.deepEqual(stepKinds(await s.apply()), ['replace-nft-table'], 'a rule added to the NR table is removed');

    await inNetns(nrNs, IP, ['link', 'set', 'br0', 'down']);
    t.true(stepKinds(await s.apply()).includes('set-link'), 'a bridge set down is set up again');
    t.true(await s.converged());
    t.deepEqual((await s.apply()).steps, [], 'steady again');

    // Links deleted outright: the veth to ndmz (deleting its ndmz end takes both) and the bridge.
    await inNetns(ndmz, IP, ['link', 'del', `p-${s.netId}`]);
    t.true(stepKinds(await s.apply()).includes('create-veth'), 'a deleted veth pair is made again');
    t.deepEqual((await s.apply()).steps, [], 'steady again');
    await inNetns(nrNs, IP, ['link', 'del', 'br0']);
    t.true(stepKinds(await s.apply()).includes('create-bridge'), 'a deleted bridge is made again');
    t.deepEqual((await s.apply()).steps, [], 'steady again');
    await inNetns(nrNs, NFT, ['delete', 'table', 'inet', 'zmesh']);
    t.deepEqual(stepKinds(await s.apply()), ['replace-nft-table'], 'a deleted table is made again');
    t.true(await s.converged());
    t.deepEqual((await s.apply()).steps, [], 'and then nothing more to do');
  },
);

test.serial(
  'a steady no-op does not read the WireGuard device; a device made anew behind its back is read and configured again',
  async (t) => {
    const s = await subject(t);
    const device = `w-${s.netId}`;
    await s.apply();
    await s.apply();
    s.wg.reads = 0;
    t.deepEqual((await s.apply()).steps, []);
    t.is(s.wg.reads, 0, 'the confirmed configuration was not read again');

    // wgd loses the device's configuration: a new device of the same name (as after a wgd restart).
    await s.node.wgd.delete(device);
    await s.node.wgd.create({ name: device, netns: `/run/netns/${s.node.prefix}n-${s.netId}`, mtu: 1420 });
    t.deepEqual(
      (await s.node.wgd.list()).map((d) => d.peers),
      [0],
      'the new device has no peers',
    );
    const repaired = await s.apply();
    t.true(stepKinds(repaired).includes('configure-wg'), stepKinds(repaired).join(','));
    t.true(s.wg.reads > 0, 'the new device was read');
    t.deepEqual(
      (await s.node.wgd.list()).map((d) => d.peers),
      [1],
      'the peer is back',
    );
    t.true(await s.converged());

    s.wg.reads = 0;
    t.deepEqual((await s.apply()).steps, []);
    t.is(s.wg.reads, 0, 'remembered again once confirmed');
  },
);

test.serial(
  'removeNr releases the namespace: no watch keeps it (or its port in ndmz) alive, and applying again rebuilds it',
  async (t) => {
    const s = await subject(t);
    await s.apply();
    await s.apply(); // the NR's namespace and ndmz are now watched
    const removed = await s.nr.removeNr(s.netId);
    t.deepEqual(stepKinds(removed), ['delete-link', 'delete-namespace', 'remove-wg-device']);
    const ports = JSON.parse(await inNetns(`${s.node.prefix}ndmz`, IP, ['-j', 'link'])) as { ifname: string }[];
    t.false(ports.some((l) => l.ifname === `p-${s.netId}`));
    t.deepEqual((await s.nr.removeNr(s.netId)).steps, [], 'removing again does nothing');
    t.true((await s.apply()).steps.some((step) => step.kind === 'create-namespace'));
    t.true(await s.converged());
  },
);
