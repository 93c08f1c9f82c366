// The conntrack side of access control (src/nr/cut-flows.ts) and its place in diff: entries are
// read in their original direction, only those the policy denies are chosen, and the cut follows
// the table replacement of the same namespace (so apply runs it after the new rules are in).
import test from 'ava';
import { deniedFlows, parseConntrackList } from '../../../src/nr/cut-flows.js';
import { diffPlans } from '../../../src/nr/diff.js';
import { namedNetns, type NamespacePlan } from '../../../src/nr/model.js';
import { nrTable } from '../../../src/nr/tables.js';
import type { AccessPolicy } from '../../../src/netdef/index.js';

const LISTING = [
  'tcp      6 431999 ESTABLISHED src=10.1.0.10 dst=10.1.1.10 sport=40000 dport=8080 src=10.1.1.10 dst=10.1.0.10 sport=8080 dport=40000 [ASSURED] mark=0 use=1',
  'tcp      6 431999 ESTABLISHED src=10.1.0.10 dst=10.1.1.10 sport=40001 dport=22 src=10.1.1.10 dst=10.1.0.10 sport=22 dport=40001 [ASSURED] mark=0 use=1',
  'icmp     1 29 src=10.1.2.10 dst=10.1.0.10 type=8 code=0 id=77 src=10.1.0.10 dst=10.1.2.10 type=0 code=0 id=77 mark=0 use=1',
  'udp      17 25 src=10.1.0.10 dst=192.0.2.1 sport=5000 dport=53 src=192.0.2.1 dst=100.127.0.2 sport=53 dport=5000 mark=0 use=1',
  'sctp     132 3 CLOSED src=10.1.0.10 dst=10.1.1.10 sport=1 dport=2 src=10.1.1.10 dst=10.1.0.10 sport=2 dport=1 mark=0 use=1',
  '',
].join('\n');

const POLICY: AccessPolicy = {
  range: '10.1.0.0/16',
  rules: [
    {
      from: ['10.1.0.0/24'],
      to: ['10.1.1.0/24'],
      protocol: 'tcp',
      ports: [{ first: 8080, last: 8080 }],
      origin: 'association 0 (a -> b)',
    },
  ],
};

test('conntrack entries are read in their original direction; only the denied ones are chosen', (t) => {
  const flows = parseConntrackList(LISTING);
  t.deepEqual(
    flows.map((f) => `${f.protocol} ${f.src} ${f.dst} ${JSON.stringify(f.keys)}`),
    [
      'tcp 10.1.0.10 10.1.1.10 {"sport":"40000","dport":"8080"}',
      'tcp 10.1.0.10 10.1.1.10 {"sport":"40001","dport":"22"}',
      'icmp 10.1.2.10 10.1.0.10 {"type":"8","code":"0","id":"77"}',
      'udp 10.1.0.10 192.0.2.1 {"sport":"5000","dport":"53"}',
    ],
  );
  t.deepEqual(
    deniedFlows(flows, POLICY).map((f) => `${f.protocol} ${f.src} ${f.dst}:${f.keys['dport'] ?? ''}`),
    ['tcp 10.1.0.10 10.1.1.10:22', 'icmp 10.1.2.10 10.1.0.10:'],
  );
});

test('diff cuts denied flows right after replacing the table of a namespace that asks for it, and only then', (t) => {
  const netns = namedNetns('zt-n-abcdefgh');
  const plan: NamespacePlan = {
    netns,
    create: false,
    links: [],
    addresses: [],
    routes: [],
    ownsRoutes: false,
    sysctls: [],
    nftTables: [nrTable('w-abcdefgh')],
    cutDeniedFlows: POLICY,
  };
  const observed = { netns, exists: true, links: [], addresses: [], routes: [], sysctls: {}, nftTables: [] };
  t.deepEqual(
    diffPlans([plan], [observed]).map((s) => s.kind),
    ['replace-nft-table', 'cut-denied-flows'],
  );
  t.deepEqual(
    diffPlans([plan], [{ ...observed, nftTables: [nrTable('w-abcdefgh')] }]),
    [],
    'an unchanged table cuts nothing',
  );
});
