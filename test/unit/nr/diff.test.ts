import test from 'ava';
import { netIdOf } from '../../../src/netdef/index.js';
import { diffNdmz, diffNr, diffPlans } from '../../../src/nr/diff.js';
import type { DesiredNr, ObservedNamespace, ObservedNr } from '../../../src/nr/model.js';
import { planNdmz, planNr } from '../../../src/nr/plan.js';
import { type Step, describeStep } from '../../../src/nr/steps.js';
import { type TestNetwork, buildNetwork, initKeys, nodeInput } from './fixtures.js';
import { missing, observedFrom, observedNrFrom } from './observed.js';

const NET_ID = netIdOf('demo');
const W = `w-${NET_ID}`;

let net: TestNetwork;
let desired: DesiredNr;

test.before(async () => {
  await initKeys();
  net = buildNetwork('demo', '10.1.0.0/16', [
    { id: 'a', hidden: false, host: '198.51.100.11' },
    { id: 'b', hidden: false, host: '198.51.100.12' },
    { id: 'c', hidden: false, host: '198.51.100.13' },
  ]);
  const { resource, ctx } = nodeInput(net, 'a');
  desired = planNr(resource, ctx);
});

const lines = (steps: Step[]): string[] => steps.map(describeStep);

/** The applied state with one namespace changed by `edit` (0: the NR, 1: the ndmz slice). */
function observedWith(index: 0 | 1, edit: (ns: ObservedNamespace) => ObservedNamespace): ObservedNr {
  const base = observedNrFrom(desired);
  const namespaces = base.namespaces.map((ns, i) => (i === index ? edit(ns) : ns));
  return { ...base, namespaces };
}

test('an NR that does not exist is built in order: namespace, links, their settings, addresses, routes, sysctl, nft, WireGuard', (t) => {
  const observed: ObservedNr = {
    netId: NET_ID,
    namespaces: [missing(desired.namespaces[0]!), observedFrom({ ...desired.namespaces[1]!, links: [] })],
    wireguard: null,
  };
  const steps = diffNr(desired, observed);
  t.deepEqual(lines(steps), [
    `create-namespace ztn-${NET_ID}`,
    `[ztn-${NET_ID}] create-veth public <-> ztndmz/p-${NET_ID} mtu 1500`,
    `[ztn-${NET_ID}] create-bridge br0 mtu 1420`,
    `[ztn-${NET_ID}] ensure-wg-device ${W} mtu 1420`,
    `[ztn-${NET_ID}] set-link br0 up`,
    `[ztn-${NET_ID}] set-link lo up`,
    `[ztn-${NET_ID}] set-link public up`,
    `[ztn-${NET_ID}] set-link ${W} up`,
    `[ztndmz] set-link p-${NET_ID} master br-nr up`,
    `[ztn-${NET_ID}] add-address 100.127.0.2/16 dev public`,
    `[ztn-${NET_ID}] add-address 10.1.0.1/24 dev br0`,
    `[ztn-${NET_ID}] add-address 100.64.1.0/16 dev ${W}`,
    `[ztn-${NET_ID}] replace-route 10.1.0.0/16 dev ${W}`,
    `[ztn-${NET_ID}] replace-route 0.0.0.0/0 via 100.127.0.1 dev public`,
    `[ztn-${NET_ID}] set-sysctl net.ipv4.ip_forward=1`,
    `[ztn-${NET_ID}] replace-nft-table inet zmesh`,
    `configure-wg ${W} port ${desired.wireguard.config.listenPort} peers 2`,
  ]);
  const configure = steps.at(-1);
  t.is(configure?.kind === 'configure-wg' ? configure.config : null, desired.wireguard.config);
});

test('idempotence: diff against the state an apply leaves is empty (NR and ndmz)', (t) => {
  t.deepEqual(diffNr(desired, observedNrFrom(desired)), []);
  const ndmz = planNdmz('zt');
  t.deepEqual(diffNdmz(ndmz, { namespaces: ndmz.namespaces.map(observedFrom) }), []);
});

test('a fresh ndmz: namespace, then the veth pair from inside ndmz to the host, the bridge, addresses, default route, sysctls, three tables', (t) => {
  const ndmz = planNdmz('zt');
  const host = observedFrom({ ...ndmz.namespaces[0]!, links: [], addresses: [], sysctls: [], nftTables: [] });
  const steps = diffNdmz(ndmz, {
    namespaces: [{ ...host, sysctls: { 'net.ipv4.ip_forward': '0' } }, missing(ndmz.namespaces[1]!)],
  });
  t.deepEqual(lines(steps), [
    'create-namespace ztndmz',
    '[ztndmz] create-veth npub <-> host/ztndmz0 mtu 1500',
    '[ztndmz] create-bridge br-nr mtu 1500',
    '[ztndmz] set-link br-nr up',
    '[host] set-link ztndmz0 up',
    '[ztndmz] set-link lo up',
    '[ztndmz] set-link npub up',
    '[host] add-address 100.126.0.1/30 dev ztndmz0',
    '[ztndmz] add-address 100.126.0.2/30 dev npub',
    '[ztndmz] add-address 100.127.0.1/16 dev br-nr',
    '[ztndmz] replace-route 0.0.0.0/0 via 100.126.0.1 dev npub',
    '[host] set-sysctl net.ipv4.ip_forward=1',
    '[ztndmz] set-sysctl net.ipv4.ip_forward=1',
    '[host] replace-nft-table inet ztzmesh',
    '[ztndmz] replace-nft-table inet zmesh',
    '[ztndmz] replace-nft-table bridge zmesh',
  ]);
});

test('a link with another MTU, outside its bridge or down gets one set-link with exactly those fields', (t) => {
  const observed = observedWith(0, (ns) => ({
    ...ns,
    links: ns.links.map((l) => (l.name === 'br0' ? { ...l, mtu: 1500 } : l.name === W ? { ...l, up: false } : l)),
  }));
  t.deepEqual(lines(diffNr(desired, observed)), [
    `[ztn-${NET_ID}] set-link br0 mtu 1420`,
    `[ztn-${NET_ID}] set-link ${W} up`,
  ]);
  const detached = observedWith(1, (ns) => ({ ...ns, links: ns.links.map((l) => ({ ...l, master: null })) }));
  t.deepEqual(lines(diffNr(desired, detached)), [`[ztndmz] set-link p-${NET_ID} master br-nr`]);
});

test('stale addresses on planned links are removed before the planned ones are added; other links are never touched', (t) => {
  const observed = observedWith(0, (ns) => ({
    ...ns,
    links: [...ns.links, { name: 'wl-abc123', kind: 'veth', mtu: 1420, master: 'br0', up: true }],
    addresses: [
      ...ns.addresses.filter((a) => a.link !== 'public'),
      { link: 'public', cidr: '100.127.0.9/16' }, // the address before a change
      { link: 'br0', cidr: '10.1.9.1/24' }, // the gateway of an old subnet
      { link: 'wl-abc123', cidr: '192.0.2.1/24' }, // not ours
    ],
  }));
  t.deepEqual(lines(diffNr(desired, observed)), [
    `[ztn-${NET_ID}] remove-address 100.127.0.9/16 dev public`,
    `[ztn-${NET_ID}] add-address 100.127.0.2/16 dev public`,
    `[ztn-${NET_ID}] remove-address 10.1.9.1/24 dev br0`,
  ]);
});

test('routes: a changed route is replaced, a stale one in the NR removed, but routes in the shared ndmz are left to ndmz', (t) => {
  const observed = observedWith(0, (ns) => ({
    ...ns,
    routes: [
      { destination: '10.1.0.0/16', gateway: null, link: W },
      { destination: '0.0.0.0/0', gateway: null, link: W }, // egress was via an exit
      { destination: '10.9.0.0/16', gateway: null, link: W }, // an old range
    ],
  }));
  t.deepEqual(lines(diffNr(desired, observed)), [
    `[ztn-${NET_ID}] replace-route 0.0.0.0/0 via 100.127.0.1 dev public`,
    `[ztn-${NET_ID}] remove-route 10.9.0.0/16 dev ${W}`,
  ]);
  const ndmzRoutes = observedWith(1, (ns) => ({
    ...ns,
    routes: [{ destination: '0.0.0.0/0', gateway: '100.126.0.1', link: 'npub' }],
  }));
  t.deepEqual(diffNr(desired, ndmzRoutes), []);
});

test('a sysctl with another value is set again', (t) => {
  const observed = observedWith(0, (ns) => ({ ...ns, sysctls: { 'net.ipv4.ip_forward': '0' } }));
  t.deepEqual(lines(diffNr(desired, observed)), [`[ztn-${NET_ID}] set-sysctl net.ipv4.ip_forward=1`]);
});

test('an nft table that is missing, has an extra rule, or another policy is replaced as a whole', (t) => {
  const table = desired.namespaces[0]!.nftTables[0]!;
  const variants = [
    [],
    [
      {
        ...table,
        chains: table.chains.map((c, i) => (i === 1 ? { ...c, rules: [...c.rules, [{ accept: null }]] } : c)),
      },
    ],
    [{ ...table, chains: table.chains.map((c, i) => (i === 0 ? { ...c, policy: 'drop' as const } : c)) }],
  ];
  for (const nftTables of variants) {
    t.deepEqual(
      lines(
        diffNr(
          desired,
          observedWith(0, (ns) => ({ ...ns, nftTables })),
        ),
      ),
      [`[ztn-${NET_ID}] replace-nft-table inet zmesh`],
    );
  }
  // Key order inside statements does not matter: nft may print fields in another order.
  const reordered = JSON.parse(JSON.stringify(table), (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
  );
  t.deepEqual(
    diffNr(
      desired,
      observedWith(0, (ns) => ({ ...ns, nftTables: [reordered] })),
    ),
    [],
  );
});

test('WireGuard: any difference in key, port, peers, allowed IPs, keepalive or planned endpoint yields one configure step', (t) => {
  const base = observedNrFrom(desired);
  const status = base.wireguard!;
  const [p1, p2] = status.peers;
  const variants = {
    'other key': { ...status, publicKey: p1!.publicKey },
    'no key': { ...status, publicKey: null },
    'other port': { ...status, listenPort: status.listenPort + 1 },
    'missing peer': { ...status, peers: [p1!] },
    'extra peer': { ...status, peers: [...status.peers, { ...p2!, publicKey: desired.wireguard.config.publicKey }] },
    'allowed IPs': { ...status, peers: [{ ...p1!, allowedIps: ['10.1.1.0/24'] }, p2!] },
    keepalive: { ...status, peers: [{ ...p1!, persistentKeepalive: 25 }, p2!] },
    endpoint: { ...status, peers: [{ ...p1!, endpoint: '192.0.2.7:51820' }, p2!] },
  };
  for (const [what, wireguard] of Object.entries(variants)) {
    t.deepEqual(
      lines(diffNr(desired, { ...base, wireguard })),
      [`configure-wg ${W} port ${status.listenPort} peers 2`],
      what,
    );
  }
  // Same allowed IPs in another order, or a roamed endpoint of a peer that dials in: no change.
  const dialsIn: DesiredNr = {
    ...desired,
    wireguard: {
      ...desired.wireguard,
      config: {
        ...desired.wireguard.config,
        peers: desired.wireguard.config.peers.map((p, i) => (i === 0 ? { ...p, endpoint: null } : p)),
      },
    },
  };
  const roamed = {
    ...status,
    peers: [{ ...p1!, endpoint: '203.0.113.5:4444', allowedIps: [...p1!.allowedIps].reverse() }, p2!],
  };
  t.deepEqual(diffNr(dialsIn, { ...base, wireguard: roamed }), []);
});

test('a WireGuard device the backend lost (wgd restarted) is recreated, brought up, addressed, routed and configured', (t) => {
  const base = observedNrFrom(desired);
  const lost: ObservedNr = {
    ...base,
    wireguard: null,
    namespaces: base.namespaces.map((ns, i) =>
      i === 0
        ? {
            ...ns,
            links: ns.links.filter((l) => l.name !== W),
            addresses: ns.addresses.filter((a) => a.link !== W),
            routes: ns.routes.filter((r) => r.link !== W),
          }
        : ns,
    ),
  };
  t.deepEqual(lines(diffNr(desired, lost)), [
    `[ztn-${NET_ID}] ensure-wg-device ${W} mtu 1420`,
    `[ztn-${NET_ID}] set-link ${W} up`,
    `[ztn-${NET_ID}] add-address 100.64.1.0/16 dev ${W}`,
    `[ztn-${NET_ID}] replace-route 10.1.0.0/16 dev ${W}`,
    `configure-wg ${W} port ${desired.wireguard.config.listenPort} peers 2`,
  ]);
});

test('half a veth pair is removed and the pair made anew; a link of the wrong kind is replaced', (t) => {
  const halfPair = observedWith(0, (ns) => ({
    ...ns,
    links: ns.links.filter((l) => l.name !== 'public'),
    addresses: ns.addresses.filter((a) => a.link !== 'public'),
    routes: ns.routes.filter((r) => r.link !== 'public'),
  }));
  t.deepEqual(lines(diffNr(desired, halfPair)), [
    `[ztndmz] delete-link p-${NET_ID}`,
    `[ztn-${NET_ID}] create-veth public <-> ztndmz/p-${NET_ID} mtu 1500`,
    `[ztn-${NET_ID}] set-link public up`,
    `[ztndmz] set-link p-${NET_ID} master br-nr up`,
    `[ztn-${NET_ID}] add-address 100.127.0.2/16 dev public`,
    `[ztn-${NET_ID}] replace-route 0.0.0.0/0 via 100.127.0.1 dev public`,
  ]);
  const wrongKind = observedWith(0, (ns) => ({
    ...ns,
    links: ns.links.map((l) => (l.name === 'br0' ? { ...l, kind: 'dummy' } : l)),
  }));
  t.deepEqual(lines(diffNr(desired, wrongKind)), [
    `[ztn-${NET_ID}] delete-link br0`,
    `[ztn-${NET_ID}] create-bridge br0 mtu 1420`,
    `[ztn-${NET_ID}] set-link br0 up`,
    `[ztn-${NET_ID}] add-address 10.1.0.1/24 dev br0`,
  ]);
});

test('the host namespace: only the planned link is looked at, its stray address removed, host routes never removed', (t) => {
  const ndmz = planNdmz('zt');
  const host = observedFrom(ndmz.namespaces[0]!);
  const observedHost: ObservedNamespace = {
    ...host,
    links: [...host.links, { name: 'eth0', kind: '', mtu: 1500, master: null, up: true }],
    addresses: [
      ...host.addresses,
      { link: 'eth0', cidr: '198.51.100.11/24' },
      { link: 'ztndmz0', cidr: '100.126.0.5/30' },
    ],
    routes: [{ destination: '0.0.0.0/0', gateway: '198.51.100.1', link: 'eth0' }],
  };
  t.deepEqual(lines(diffPlans(ndmz.namespaces, [observedHost, observedFrom(ndmz.namespaces[1]!)])), [
    '[host] remove-address 100.126.0.5/30 dev ztndmz0',
  ]);
});
