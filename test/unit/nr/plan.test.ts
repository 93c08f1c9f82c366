import test from 'ava';
import { generateKeyPair, netIdOf } from '../../../src/netdef/index.js';
import { NrError } from '../../../src/nr/errors.js';
import type { NamespacePlan } from '../../../src/nr/model.js';
import { planNdmz, planNr } from '../../../src/nr/plan.js';
import { type TestNetwork, buildNetwork, initKeys, nodeInput, resourceOf } from './fixtures.js';

// The exact nft JSON of each table, as `nft -j list table` prints it (test/netns/nr-tables proves
// the kernel round trip); written out here so that any change to a rule is a visible diff.
const ctEstablished = { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } };
const iif = (name: string) => ({ match: { op: '==', left: { meta: { key: 'iifname' } }, right: name } });
const oif = (name: string, op = '==') => ({ match: { op, left: { meta: { key: 'oifname' } }, right: name } });
const mssClamp = [
  { match: { op: 'in', left: { payload: { protocol: 'tcp', field: 'flags' } }, right: 'syn' } },
  { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } },
];
const prefix = (addr: string, len: number) => ({ prefix: { addr, len } });

const NET = 'demo';
const NET_ID = netIdOf(NET);
const NR_NS = `ztn-${NET_ID}`;
const W = `w-${NET_ID}`;

const NR_TABLE = {
  family: 'inet',
  name: 'zmesh',
  chains: [
    {
      name: 'forward',
      type: 'filter',
      hook: 'forward',
      prio: 0,
      policy: 'accept',
      rules: [mssClamp, [ctEstablished, { accept: null }], [iif('public'), { drop: null }]],
    },
    {
      name: 'input',
      type: 'filter',
      hook: 'input',
      prio: 0,
      policy: 'accept',
      rules: [
        // Failover's channel only from the tunnel: a workload cannot forge an aggregator's announcement.
        [
          { match: { op: '!=', left: { meta: { key: 'iifname' } }, right: W } },
          { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 51822 } },
          { drop: null },
        ],
        [ctEstablished, { accept: null }],
        [iif('public'), { drop: null }],
      ],
    },
    {
      name: 'postrouting',
      type: 'nat',
      hook: 'postrouting',
      prio: 100,
      policy: 'accept',
      rules: [[oif('public'), { masquerade: null }]],
    },
  ],
};

let plain: TestNetwork; // a, b public; h hidden behind aggregator a
let withExit: TestNetwork; // the same plus x, the exit

test.before(async () => {
  await initKeys();
  const nodes = [
    { id: 'a', hidden: false, host: '198.51.100.11' },
    { id: 'b', hidden: false, host: '198.51.100.12' },
    { id: 'h', hidden: true },
  ];
  plain = buildNetwork(NET, '10.1.0.0/16', nodes, { aggregator: 'a' });
  withExit = buildNetwork(NET, '10.1.0.0/16', [...nodes, { id: 'x', hidden: false, host: 'exit.example' }], {
    aggregator: 'a',
    exit: 'x',
  });
});

function port(net: TestNetwork, node: string): number {
  return resourceOf(net, node).listenPort;
}
function key(net: TestNetwork, node: string): string {
  return resourceOf(net, node).wgPublicKey;
}
function nrNamespace(namespaces: readonly NamespacePlan[]): NamespacePlan {
  return namespaces[0]!;
}

test('planNdmz: host veth end, ndmz namespace with npub and br-nr, CGNAT addresses, default via the host, forwarding on, the four tables', (t) => {
  const desired = planNdmz('zt');
  t.deepEqual(desired, {
    namespaces: [
      {
        netns: { kind: 'host' },
        create: false,
        links: [
          {
            name: 'ztndmz0',
            create: { kind: 'veth-peer', pairNetns: { kind: 'named', name: 'ztndmz' }, pair: 'npub' },
            mtu: 1500,
            master: null,
            up: true,
          },
        ],
        addresses: [{ link: 'ztndmz0', cidr: '100.126.0.1/30' }],
        routes: [],
        ownsRoutes: false,
        sysctls: [{ key: 'net.ipv4.ip_forward', value: '1' }],
        nftTables: [
          {
            family: 'inet',
            name: 'ztzmesh',
            chains: [
              {
                name: 'forward',
                type: 'filter',
                hook: 'forward',
                prio: 0,
                policy: 'accept',
                rules: [
                  [iif('ztndmz0'), { accept: null }],
                  [oif('ztndmz0'), ctEstablished, { accept: null }],
                  [oif('ztndmz0'), { drop: null }],
                ],
              },
              {
                name: 'input',
                type: 'filter',
                hook: 'input',
                prio: 0,
                policy: 'accept',
                rules: [
                  [iif('ztndmz0'), ctEstablished, { accept: null }],
                  [iif('ztndmz0'), { drop: null }],
                ],
              },
              {
                name: 'postrouting',
                type: 'nat',
                hook: 'postrouting',
                prio: 100,
                policy: 'accept',
                rules: [
                  [
                    {
                      match: {
                        op: '==',
                        left: { payload: { protocol: 'ip', field: 'saddr' } },
                        right: prefix('100.126.0.0', 30),
                      },
                    },
                    oif('ztndmz0', '!='),
                    { masquerade: null },
                  ],
                ],
              },
            ],
          },
        ],
      },
      {
        netns: { kind: 'named', name: 'ztndmz' },
        create: true,
        links: [
          { name: 'lo', create: { kind: 'loopback' }, mtu: null, master: null, up: true },
          {
            name: 'npub',
            create: { kind: 'veth-pair', peerNetns: { kind: 'host' }, peer: 'ztndmz0' },
            mtu: 1500,
            master: null,
            up: true,
          },
          { name: 'br-nr', create: { kind: 'bridge' }, mtu: 1500, master: null, up: true },
        ],
        addresses: [
          { link: 'npub', cidr: '100.126.0.2/30' },
          { link: 'br-nr', cidr: '100.127.0.1/16' },
        ],
        routes: [{ destination: '0.0.0.0/0', gateway: '100.126.0.1', link: 'npub' }],
        ownsRoutes: true,
        sysctls: [{ key: 'net.ipv4.ip_forward', value: '1' }],
        nftTables: [
          {
            family: 'inet',
            name: 'zmesh',
            chains: [
              {
                name: 'forward',
                type: 'filter',
                hook: 'forward',
                prio: 0,
                policy: 'accept',
                rules: [
                  mssClamp,
                  [ctEstablished, { accept: null }],
                  [iif('npub'), { drop: null }],
                  [
                    iif('br-nr'),
                    {
                      match: {
                        op: '==',
                        left: { payload: { protocol: 'ip', field: 'daddr' } },
                        // nft lists set elements sorted by address
                        right: {
                          set: [
                            prefix('10.0.0.0', 8),
                            prefix('100.64.0.0', 10),
                            prefix('127.0.0.0', 8),
                            prefix('169.254.0.0', 16),
                            prefix('172.16.0.0', 12),
                            prefix('192.168.0.0', 16),
                            prefix('224.0.0.0', 4),
                          ],
                        },
                      },
                    },
                    { drop: null },
                  ],
                ],
              },
              {
                name: 'input',
                type: 'filter',
                hook: 'input',
                prio: 0,
                policy: 'accept',
                rules: [
                  [ctEstablished, { accept: null }],
                  [iif('npub'), { drop: null }],
                ],
              },
              {
                name: 'postrouting',
                type: 'nat',
                hook: 'postrouting',
                prio: 100,
                policy: 'accept',
                rules: [[oif('npub'), { masquerade: null }]],
              },
            ],
          },
          {
            family: 'bridge',
            name: 'zmesh',
            chains: [
              {
                name: 'forward',
                type: 'filter',
                hook: 'forward',
                prio: -200,
                policy: 'accept',
                rules: [[{ drop: null }]],
              },
            ],
          },
        ],
      },
    ],
  });
});

test('planNdmz with the empty production prefix names the host table "zmesh" and the namespace "ndmz"', (t) => {
  const [host, ndmz] = planNdmz('').namespaces;
  t.is(host!.links[0]!.name, 'ndmz0');
  t.is(host!.nftTables[0]!.name, 'zmesh');
  t.deepEqual(ndmz!.netns, { kind: 'named', name: 'ndmz' });
});

test('public NR: namespace, veth to ndmz (port of br-nr), br0 with the gateway, WireGuard /16 address, range into the mesh, default via ndmz', (t) => {
  const { resource, ctx } = nodeInput(plain, 'b', { publicAddress: '100.127.0.7' });
  const desired = planNr(resource, ctx);
  t.is(desired.netId, NET_ID);
  t.deepEqual(desired.namespaces, [
    {
      netns: { kind: 'named', name: NR_NS },
      create: true,
      links: [
        { name: 'lo', create: { kind: 'loopback' }, mtu: null, master: null, up: true },
        {
          name: 'public',
          create: { kind: 'veth-pair', peerNetns: { kind: 'named', name: 'ztndmz' }, peer: `p-${NET_ID}` },
          mtu: 1500,
          master: null,
          up: true,
        },
        { name: 'br0', create: { kind: 'bridge' }, mtu: 1420, master: null, up: true },
        { name: W, create: { kind: 'wireguard' }, mtu: 1420, master: null, up: true },
      ],
      addresses: [
        { link: 'public', cidr: '100.127.0.7/16' },
        { link: 'br0', cidr: '10.1.1.1/24' },
        { link: W, cidr: '100.64.1.1/16' },
      ],
      routes: [
        { destination: '10.1.0.0/16', gateway: null, link: W },
        { destination: '0.0.0.0/0', gateway: '100.127.0.1', link: 'public' },
      ],
      ownsRoutes: true,
      sysctls: [{ key: 'net.ipv4.ip_forward', value: '1' }],
      nftTables: [NR_TABLE],
    },
    {
      netns: { kind: 'named', name: 'ztndmz' },
      create: false,
      links: [
        {
          name: `p-${NET_ID}`,
          create: { kind: 'veth-peer', pairNetns: { kind: 'named', name: NR_NS }, pair: 'public' },
          mtu: 1500,
          master: 'br-nr',
          up: true,
        },
      ],
      addresses: [],
      routes: [],
      ownsRoutes: false,
      sysctls: [],
      nftTables: [],
    },
  ]);
  const { privateKey, ...config } = desired.wireguard.config;
  t.is(privateKey, ctx.privateKey, 'the key handle is passed through, not copied');
  t.deepEqual(desired.wireguard.name, W);
  t.deepEqual(desired.wireguard.netns, { kind: 'named', name: NR_NS });
  t.is(desired.wireguard.mtu, 1420);
  t.deepEqual(config, {
    publicKey: key(plain, 'b'),
    listenPort: port(plain, 'b'),
    peers: [
      // the aggregator carries h's prefixes for b: one relay hop
      {
        publicKey: key(plain, 'a'),
        endpoint: `198.51.100.11:${port(plain, 'a')}`,
        allowedIps: ['10.1.0.0/24', '10.1.2.0/24', '100.64.1.0/32', '100.64.1.2/32'],
        persistentKeepalive: 0,
      },
    ],
  });
});

test('hidden NR: its one peer is the aggregator with the whole range and 100.64.0.0/16, keepalive 25; egress still via its own ndmz', (t) => {
  const { resource, ctx } = nodeInput(plain, 'h');
  const desired = planNr(resource, ctx);
  const nr = nrNamespace(desired.namespaces);
  t.deepEqual(nr.routes, [
    { destination: '10.1.0.0/16', gateway: null, link: W },
    { destination: '0.0.0.0/0', gateway: '100.127.0.1', link: 'public' },
  ]);
  t.deepEqual(
    nr.addresses.map((a) => a.cidr),
    ['100.127.0.2/16', '10.1.2.1/24', '100.64.1.2/16'],
  );
  t.deepEqual(desired.wireguard.config.peers, [
    {
      publicKey: key(plain, 'a'),
      endpoint: `198.51.100.11:${port(plain, 'a')}`,
      allowedIps: ['10.1.0.0/16', '100.64.0.0/16'],
      persistentKeepalive: 25,
    },
  ]);
});

test('aggregator NR: the hidden NR is a peer without endpoint (it dials in), the public one with its endpoint', (t) => {
  const { resource, ctx } = nodeInput(plain, 'a');
  const desired = planNr(resource, ctx);
  t.deepEqual(desired.wireguard.config.peers, [
    {
      publicKey: key(plain, 'b'),
      endpoint: `198.51.100.12:${port(plain, 'b')}`,
      allowedIps: ['10.1.1.0/24', '100.64.1.1/32'],
      persistentKeepalive: 0,
    },
    {
      publicKey: key(plain, 'h'),
      endpoint: null,
      allowedIps: ['10.1.2.0/24', '100.64.1.2/32'],
      persistentKeepalive: 0,
    },
  ]);
  t.deepEqual(nrNamespace(desired.namespaces).nftTables, [NR_TABLE], 'relaying between peers needs no extra rule');
});

test('exit NR: egresses through its own ndmz, masquerades mesh traffic out public, peers carry only their prefixes', (t) => {
  const { resource, ctx } = nodeInput(withExit, 'x');
  const desired = planNr(resource, ctx);
  const nr = nrNamespace(desired.namespaces);
  t.deepEqual(nr.routes, [
    { destination: '10.1.0.0/16', gateway: null, link: W },
    { destination: '0.0.0.0/0', gateway: '100.127.0.1', link: 'public' },
  ]);
  t.deepEqual(
    desired.wireguard.config.peers.map((p) => p.allowedIps),
    [
      ['10.1.0.0/24', '10.1.3.0/24', '100.64.1.0/32', '100.64.1.3/32'], // x joined before h: h is 10.1.3.0/24
      ['10.1.1.0/24', '100.64.1.1/32'],
    ],
  );
});

test('NR egressing via the exit: default route into the mesh (no route via ndmz), the exit peer carries 0.0.0.0/0 at the address its host name resolved to', (t) => {
  const exitEndpoint = `exit.example:${port(withExit, 'x')}`;
  const { resource, ctx } = nodeInput(withExit, 'b', {
    resolved: new Map([[exitEndpoint, `198.51.100.99:${port(withExit, 'x')}`]]),
  });
  const desired = planNr(resource, ctx);
  t.deepEqual(nrNamespace(desired.namespaces).routes, [
    { destination: '10.1.0.0/16', gateway: null, link: W },
    { destination: '0.0.0.0/0', gateway: null, link: W },
  ]);
  const exitPeer = desired.wireguard.config.peers.find((p) => p.publicKey === key(withExit, 'x'));
  t.deepEqual(exitPeer, {
    publicKey: key(withExit, 'x'),
    endpoint: `198.51.100.99:${port(withExit, 'x')}`,
    allowedIps: ['0.0.0.0/0'],
    persistentKeepalive: 0,
  });
});

test('an endpoint host name that reaches the plan is refused naming its peer (networkd resolves before planning)', (t) => {
  const { resource, ctx } = nodeInput(withExit, 'b');
  const index = resource.peers.findIndex((p) => p.publicKey === key(withExit, 'x'));
  const error = t.throws(() => planNr(resource, ctx), { instanceOf: NrError });
  t.is(error?.code, 'EINVAL');
  t.is(error?.context.field, `resource.peers[${index}].endpoint`);
  t.regex(error!.message, /must be a numeric ip:port/);
});

test('bad input is refused with the field named and no key material in the message', (t) => {
  const { resource, ctx } = nodeInput(plain, 'b');
  const cases: Array<[Parameters<typeof planNr>[1], string]> = [
    [{ ...ctx, prefix: 'Bad-Prefix' }, 'ctx.prefix'],
    [{ ...ctx, prefix: 'toolongprefix' }, 'ctx.prefix'],
    [{ ...ctx, publicAddress: '100.126.0.9' }, 'ctx.publicAddress'],
    [{ ...ctx, publicAddress: '100.127.0.1' }, 'ctx.publicAddress'],
    [{ ...ctx, publicAddress: '100.127.255.255' }, 'ctx.publicAddress'],
    [{ ...ctx, privateKey: generateKeyPair().privateKey }, 'ctx.privateKey'],
  ];
  for (const [badCtx, field] of cases) {
    const error = t.throws(() => planNr(resource, badCtx), { instanceOf: NrError });
    t.is(error?.code, 'EINVAL');
    t.is(error?.context.field, field);
    t.true(error!.message.startsWith(`${field}: `), error?.message);
    t.false(error!.message.includes(ctx.privateKey.revealBase64()));
  }
  const badSubnet = t.throws(() => planNr({ ...resource, subnet: '10.1.1.0/23' }, ctx), { instanceOf: NrError });
  t.is(badSubnet?.context.field, 'resource.subnet');
  const badNetId = t.throws(() => planNr({ ...resource, netId: '../etc' }, ctx), { instanceOf: NrError });
  t.is(badNetId?.context.field, 'resource.netId');
  const badRoute = t.throws(() => planNr({ ...resource, routes: [{ destination: '10.1.0.0/33', via: 'mesh' }] }, ctx), {
    instanceOf: NrError,
  });
  t.is(badRoute?.context.field, 'resource.routes[0].destination');
});

test('planning is deterministic and does not serialise the private key', (t) => {
  const { resource, ctx } = nodeInput(plain, 'a');
  const one = JSON.stringify(planNr(resource, ctx));
  t.is(one, JSON.stringify(planNr(resource, ctx)));
  t.false(one.includes(ctx.privateKey.revealBase64()));
});
