// An invited laptop against the real kernel: two NRs on two simulated nodes with a workload each,
// and a "laptop" namespace running Debian's wireguard-go configured from the wg-quick file that
// `zmesh peer redeem` writes (its key recorded here as the admin records the via node's report) (the Address line applied with ip(8), the rest with `wg setconf`, as wg-quick
// does). While the invitation is pending the laptop reaches nothing; once the admin accepted the
// redemption it reaches exactly what its group's associations allow, through its via NR.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  type Flow,
  type NetworkDefinition,
  acceptRedemption,
  formatRedemption,
  generateKeyPair,
  invite,
  parseInvitation,
  parseNetworkDefinition,
  wgQuickConfig,
} from '../../src/netdef/index.js';
import { worldFor } from '../harness/ava.js';
import { type Namespace, waitFor } from '../harness/index.js';
import { buildNetwork, initKeys, nodeInput } from '../unit/nr/fixtures.js';
import { simNode, type SimNode } from './nr-world.js';
import { expectTrafficMatchesExplain, passes, probeWorkload } from './access-flows.js';
import { WG, WIREGUARD_GO, isSocket, removeSocketsOf, socketPathOf } from './wg-pair.js';

test.before(initKeys);

test.serial(
  'a laptop redeems its invitation with wireguard-go and reaches only what its associations allow',
  async (t) => {
    const w = await worldFor(t);
    t.teardown(() => removeSocketsOf(w.prefix));
    const [a, b] = [await simNode(t, w, 'a'), await simNode(t, w, 'b')];
    const laptop = await w.namespace('lap');
    await w.link(a.ns, 'uplink', b.ns, 'uplink', { addressA: '198.51.100.11/24', addressB: '198.51.100.12/24' });
    await w.link(a.ns, 'lan', laptop, 'uplink', { addressA: '203.0.113.1/24', addressB: '203.0.113.2/24' });
    await laptop.addRoute('default', { via: '203.0.113.1' });
    const plain = buildNetwork(`inv-${w.prefix}`, '10.1.0.0/16', [
      { id: 'a', hidden: false, host: '198.51.100.11' },
      { id: 'b', hidden: false, host: '198.51.100.12' },
    ]);
    const now = new Date();
    const invited = invite(plain.def, { name: 'laptop', via: 'a', expires: new Date(now.getTime() + 3_600_000) });
    const invitation = parseInvitation(invited.invitation);
    // a 10.1.0.0/24, b 10.1.1.0/24; the laptop gets 10.1.255.254 and may open tcp 8080 on b only.
    const withAccess = (def: NetworkDefinition): NetworkDefinition => {
      const parsed = parseNetworkDefinition({
        ...def,
        groups: [
          { name: 'laptops', cidrs: [`${invitation.address}/32`] },
          { name: 'ga', cidrs: ['10.1.0.0/24'] },
          { name: 'gb', cidrs: ['10.1.1.0/24'] },
        ],
        associations: [
          { from: 'laptops', to: 'gb', protocol: 'tcp', ports: ['8080'] },
          { from: 'ga', to: 'gb', bothWays: true },
        ],
      });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      return parsed.value;
    };
    const apply = async (node: SimNode, id: string, def: NetworkDefinition) => {
      const { resource, ctx } = nodeInput({ def, identities: plain.identities }, id, { prefix: node.prefix });
      await node.nr.applyNr(resource, ctx);
      return resource.netId;
    };
    const pending = withAccess(invited.def);
    const netId = await apply(a, 'a', pending);
    await apply(b, 'b', pending);
    // The via NR's enrolment rules (pending /32: endpoint only) read back exactly as planned.
    const { resource, ctx } = nodeInput({ def: pending, identities: plain.identities }, 'a', { prefix: a.prefix });
    t.deepEqual(resource.enrolment?.pending, [`${invitation.address}/32`]);
    t.deepEqual((await a.nr.applyNr(resource, ctx)).steps, [], 'a second apply of the pending NR changes nothing');
    const workloads: Record<string, { ns: Namespace; ip: string }> = {};
    for (const [node, id, third] of [
      [a, 'a', 0],
      [b, 'b', 1],
    ] as const)
      workloads[id] = await probeWorkload(w, node, netId, id, third, [8080, 9090]);

    // The laptop: wireguard-go with the redeemed configuration.
    const keyPair = generateKeyPair();
    const redemption = formatRedemption({
      network: invitation.network,
      name: invitation.name,
      inviteKey: invitation.inviteKey,
      publicKey: keyPair.publicKey,
      redeemedAt: now.toISOString(),
    });
    const config = wgQuickConfig(invitation, keyPair);
    const ifname = w.ifname('lap');
    const proc = laptop.spawn(WIREGUARD_GO, ['-f', ifname], {
      env: { LOG_LEVEL: 'error', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    });
    await waitFor(
      () => {
        if (!proc.running) throw new Error(`wireguard-go exited: ${proc.stderr.slice(-300)}`);
        return isSocket(socketPathOf(ifname));
      },
      { what: 'wireguard-go to create its UAPI socket', timeoutMs: 15_000 },
    );
    const address = /^Address = (.+)$/m.exec(config)![1]!;
    const confFile = path.join(w.tempDir(), 'laptop.conf');
    writeFileSync(confFile, config.replace(/^Address = .*\n/m, ''), { mode: 0o600 }); // wg-quick strip
    await laptop.exec(WG, ['setconf', ifname, confFile]);
    await laptop.addAddress(ifname, address);
    await laptop.setUp(ifname);
    await laptop.addRoute(invitation.ipRange, { dev: ifname });

    const toB: Flow = { from: invitation.address, to: workloads['b']!.ip, protocol: 'tcp', port: 8080 };
    t.false(await passes(laptop, toB), 'pending: the via NR does not know the laptop');

    const redeemed = withAccess(acceptRedemption(invited.def, redemption));
    await apply(a, 'a', redeemed);
    await apply(b, 'b', redeemed);
    let up = false;
    for (let i = 0; i < 10 && !up; i++) up = await passes(laptop, toB);
    t.true(up, 'redeemed: the laptop reaches b:8080 through a');

    const samples: [Namespace, Flow][] = [
      [laptop, { from: invitation.address, to: workloads['b']!.ip, protocol: 'tcp', port: 9090 }],
      [laptop, { from: invitation.address, to: workloads['a']!.ip, protocol: 'tcp', port: 8080 }],
      [laptop, { from: invitation.address, to: workloads['a']!.ip, protocol: 'icmp' }],
      [laptop, { from: invitation.address, to: '10.1.0.1', protocol: 'icmp' }], // the via NR's own gateway
      [workloads['b']!.ns, { from: workloads['b']!.ip, to: invitation.address, protocol: 'icmp' }],
      [workloads['a']!.ns, { from: workloads['a']!.ip, to: workloads['b']!.ip, protocol: 'tcp', port: 9090 }],
    ];
    const verdicts = await expectTrafficMatchesExplain(t, redeemed, samples);
    t.deepEqual(verdicts, [false, false, false, false, false, true]);
  },
);
