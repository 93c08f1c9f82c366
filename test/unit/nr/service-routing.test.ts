// How an NR plans the service addresses it owns (src/nr/service-routing.ts): a /32 route via the
// named workload's address on br0, or the /32 held on br0; nothing for a workload not attached;
// and nothing at all once the resource no longer owns the service (diff then removes the rest).
import test from 'ava';
import type { NodeResource } from '../../../src/netdef/index.js';
import { planNr } from '../../../src/nr/plan.js';
import { serviceRouting } from '../../../src/nr/service-routing.js';
import { type TestNetwork, buildNetwork, initKeys, nodeInput } from './fixtures.js';

let net: TestNetwork;
test.before(async () => {
  await initKeys();
  net = buildNetwork('svc', '10.1.0.0/16', [
    { id: 'a', hidden: false },
    { id: 'b', hidden: false },
  ]);
});

const SERVICES: NodeResource['services'] = [
  { name: 'db', address: '10.1.250.7', workload: 'pg' },
  { name: 'dns', address: '10.1.250.8', workload: null },
  { name: 'later', address: '10.1.250.9', workload: 'not-yet' },
];

test('a workload service is a /32 route via its address on br0, a bare one is held on br0, an unattached workload gets nothing', (t) => {
  const { resource, ctx } = nodeInput(net, 'b');
  const desired = planNr(
    { ...resource, services: SERVICES },
    { ...ctx, workloadAddresses: new Map([['pg', '10.1.2.5']]) },
  );
  const nr = desired.namespaces[0]!;
  t.deepEqual(
    nr.routes.filter((r) => r.destination.startsWith('10.1.250.')),
    [{ destination: '10.1.250.7/32', gateway: '10.1.2.5', link: 'br0' }],
  );
  t.deepEqual(
    nr.addresses.filter((a) => a.link === 'br0'),
    [
      { link: 'br0', cidr: `${resource.gateway}/24` },
      { link: 'br0', cidr: '10.1.250.8/32' },
    ],
  );
  t.true(nr.ownsRoutes, 'the NR owns its routes: a service gone from the plan has its route removed');
  t.deepEqual(
    nr.sysctls.slice(1),
    [
      { key: 'net.ipv4.conf.all.send_redirects', value: '0' },
      { key: 'net.ipv4.conf.br0.send_redirects', value: '0' },
    ],
    'routing via a workload on the bridge: no ICMP redirects (a client would keep the old holder)',
  );
});

test('no services (moved away or removed): no service route and only the gateway on br0', (t) => {
  const { resource, ctx } = nodeInput(net, 'b');
  const nr = planNr(resource, { ...ctx, workloadAddresses: new Map([['pg', '10.1.2.5']]) }).namespaces[0]!;
  t.false(nr.routes.some((r) => r.destination.endsWith('/32')));
  t.deepEqual(
    nr.addresses.filter((a) => a.link === 'br0'),
    [{ link: 'br0', cidr: `${resource.gateway}/24` }],
  );
});

test('a service address that is no IPv4 address is EINVAL naming it', (t) => {
  const { resource } = nodeInput(net, 'b');
  const bad = { ...resource, services: [{ name: 'x', address: '10.1.250.300', workload: null }] };
  const error = t.throws(() => serviceRouting(bad, new Map()));
  t.regex(error?.message ?? '', /resource\.services\[0\]\.address/);
});
