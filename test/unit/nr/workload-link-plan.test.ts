// planWorkloadLink (src/nr/workload-link.ts) is pure: the nr steps that make a workload's link,
// given what the NR and the workload namespaces hold. The netns tests prove the same end to end;
// these cover the cases the kernel rarely shows on demand (a veth pair whose ends have equal indexes).
import test from 'ava';
import { NrError } from '../../../src/nr/errors.js';
import { describeStep } from '../../../src/nr/steps.js';
import { planWorkloadLink, type WorkloadLinkSpec } from '../../../src/nr/workload-link.js';
import type { LinkState } from '../../../src/nr/kernel/index.js';
import type { NamespaceState } from '../../../src/nr/namespace-watch.js';

const SPEC: WorkloadLinkSpec = {
  nrNetns: '/run/netns/nr',
  link: 'wl-abcdef',
  netns: '/run/netns/wl',
  ifname: 'eth0',
  ip: '10.1.2.5',
  gateway: '10.1.2.1',
  mtu: 1420,
  serviceAddresses: [],
};

function link(partial: Partial<LinkState> & Pick<LinkState, 'index' | 'name'>): LinkState {
  return { kind: 'veth', up: true, mtu: 1420, master: null, link: null, linkNetnsId: null, mac: null, ...partial };
}

const BRIDGE = link({ index: 2, name: 'br0', kind: 'bridge' });

/** The steps as describeStep prints them. */
const plan = (nr: NamespaceState, workload: NamespaceState): string[] =>
  planWorkloadLink(SPEC, nr, workload).map(describeStep);

// One step each, as describeStep names them.
const CREATE = '[/run/netns/nr] create-veth wl-abcdef <-> /run/netns/wl/eth0 mtu 1420';
const PORT_UP = '[/run/netns/nr] set-link wl-abcdef master br0 up';
const ADDRESS = '[/run/netns/wl] add-address 10.1.2.5/24 dev eth0';
const WORKLOAD_UP = '[/run/netns/wl] set-link eth0 mtu 1420 up';
const ROUTE = '[/run/netns/wl] replace-route 0.0.0.0/0 via 10.1.2.1 dev eth0';

/** An attached workload as the kernel reports it; `nrIndex`/`wlIndex` are the ends' indexes. */
function attached(nrIndex: number, wlIndex: number): { nr: NamespaceState; workload: NamespaceState } {
  const nrEnd = link({
    index: nrIndex,
    name: SPEC.link,
    master: 2,
    link: nrIndex === wlIndex ? null : wlIndex,
    linkNetnsId: 0,
  });
  const wlEnd = link({ index: wlIndex, name: 'eth0', link: nrIndex === wlIndex ? null : nrIndex, linkNetnsId: 0 });
  return {
    nr: { links: [BRIDGE, nrEnd], addresses: [], routes: [] },
    workload: {
      links: [wlEnd],
      addresses: [{ link: 'eth0', index: wlIndex, family: 4, address: SPEC.ip, prefix: 24, cidr: `${SPEC.ip}/24` }],
      routes: [
        {
          family: 4,
          destination: '0.0.0.0/0',
          gateway: SPEC.gateway,
          dev: 'eth0',
          protocol: 'boot',
          scope: 'universe',
          metric: 0,
        },
      ],
    },
  };
}

test('nothing in either namespace: create the veth, enslave it and bring it up, address, MTU/up, default route', (t) => {
  t.deepEqual(plan({ links: [BRIDGE], addresses: [], routes: [] }, { links: [], addresses: [], routes: [] }), [
    CREATE,
    PORT_UP,
    ADDRESS,
    WORKLOAD_UP,
    ROUTE,
  ]);
});

test('an attached workload needs nothing, also when both ends have the same index (the kernel then omits IFLA_LINK)', (t) => {
  for (const [nrIndex, wlIndex] of [
    [5, 2],
    [3, 3],
  ] as const) {
    const { nr, workload } = attached(nrIndex, wlIndex);
    t.deepEqual(planWorkloadLink(SPEC, nr, workload), [], `indexes ${nrIndex}/${wlIndex}`);
  }
});

test('each difference gives exactly its own step', (t) => {
  const { nr, workload } = attached(5, 2);
  const otherAddress = { ...workload.addresses[0]!, address: '10.1.2.9', cidr: '10.1.2.9/24' };
  const removeOther = '[/run/netns/wl] remove-address 10.1.2.9/24 dev eth0';
  const cases: Array<[string, NamespaceState, NamespaceState, string[]]> = [
    [
      'port off br0',
      { ...nr, links: [BRIDGE, { ...nr.links[1]!, master: null }] },
      workload,
      ['[/run/netns/nr] set-link wl-abcdef master br0'],
    ],
    [
      'NR end down',
      { ...nr, links: [BRIDGE, { ...nr.links[1]!, up: false }] },
      workload,
      ['[/run/netns/nr] set-link wl-abcdef up'],
    ],
    [
      'NR end MTU',
      { ...nr, links: [BRIDGE, { ...nr.links[1]!, mtu: 1500 }] },
      workload,
      ['[/run/netns/nr] set-link wl-abcdef mtu 1420'],
    ],
    ['workload end MTU', nr, { ...workload, links: [{ ...workload.links[0]!, mtu: 1500 }] }, [WORKLOAD_UP]],
    ['another address instead', nr, { ...workload, addresses: [otherAddress] }, [removeOther, ADDRESS]],
    ['an address more', nr, { ...workload, addresses: [...workload.addresses, otherAddress] }, [removeOther]],
    ['no default route', nr, { ...workload, routes: [] }, [ROUTE]],
    ['default route via another link', nr, { ...workload, routes: [{ ...workload.routes[0]!, dev: 'eth1' }] }, [ROUTE]],
    [
      'workload end gone (renamed)',
      nr,
      { ...workload, links: [{ ...workload.links[0]!, name: 'eth9' }] },
      ['[/run/netns/nr] delete-link wl-abcdef', CREATE, PORT_UP, ADDRESS, WORKLOAD_UP, ROUTE],
    ],
  ];
  for (const [what, n, w, steps] of cases) t.deepEqual(plan(n, w), steps, what);
});

test('service addresses: added besides the own address, kept while named, removed when the service moved away', (t) => {
  const { nr, workload } = attached(5, 2);
  const serving = { ...SPEC, serviceAddresses: ['10.1.250.7/32'] };
  const SERVICE = '[/run/netns/wl] add-address 10.1.250.7/32 dev eth0';
  t.deepEqual(planWorkloadLink(serving, nr, workload).map(describeStep), [SERVICE]);
  const fresh = planWorkloadLink(serving, { links: [BRIDGE], addresses: [], routes: [] }, EMPTY).map(describeStep);
  t.deepEqual(fresh, [CREATE, PORT_UP, ADDRESS, SERVICE, WORKLOAD_UP, ROUTE]);
  const held = { address: '10.1.250.7', prefix: 32, cidr: '10.1.250.7/32' };
  const holding: NamespaceState = {
    ...workload,
    addresses: [...workload.addresses, { ...workload.addresses[0]!, ...held }],
  };
  t.deepEqual(planWorkloadLink(serving, nr, holding), [], 'held and named: nothing to do');
  t.deepEqual(plan(nr, holding), ['[/run/netns/wl] remove-address 10.1.250.7/32 dev eth0'], 'moved away: removed');
});

const EMPTY: NamespaceState = { links: [], addresses: [], routes: [] };

test('a foreign ifname is a 409 naming ifname, whether or not our NR end exists', (t) => {
  const { nr, workload } = attached(5, 2);
  const foreign: NamespaceState = { ...workload, links: [{ ...workload.links[0]!, link: 7 }] };
  const notVeth: NamespaceState = { ...workload, links: [{ ...workload.links[0]!, kind: 'bridge' }] };
  const noNrEnd: NamespaceState = { ...nr, links: [BRIDGE] };
  for (const [n, w] of [
    [nr, foreign],
    [nr, notVeth],
    [noNrEnd, workload],
  ] as const) {
    const error = t.throws(() => planWorkloadLink(SPEC, n, w), { instanceOf: NrError });
    t.is(error?.code, 'ECONFLICT');
    t.is(error?.context.field, 'ifname');
    t.is(error?.message, 'ifname: eth0 already exists in /run/netns/wl');
  }
});
