// Access control in the definition (src/netdef/access.ts, access-edit.ts): validation of groups
// and associations with JSON paths, the editing verbs, the derived policy and explainFlow.
import test from 'ava';
import {
  type NetworkDefinition,
  NetdefValidationError,
  accessPolicyOf,
  addGroup,
  associate,
  dissociate,
  explainFlow,
  parseNetworkDefinition,
  removeGroup,
  resourceFor,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let base: NetworkDefinition;

test.before(async () => {
  await initKeys();
  // a: 10.1.0.0/24, b: 10.1.1.0/24, c: 10.1.2.0/24
  base = buildNetwork('acl', '10.1.0.0/16', [
    makeNode('a', false, '198.51.100.11'),
    makeNode('b', false, '198.51.100.12'),
    makeNode('c', false, '198.51.100.13'),
  ]);
});

function withAccess(groups: unknown[], associations: unknown[]): unknown {
  return { ...base, groups, associations };
}

function issuesOf(doc: unknown): { path: string; message: string }[] {
  const result = parseNetworkDefinition(doc);
  return result.ok ? [] : result.errors;
}

test('validation reports every problem of groups and associations with its JSON path', (t) => {
  const issues = issuesOf(
    withAccess(
      [
        { name: 'web', cidrs: ['10.1.0.0/24', '10.1.0.0/24'] },
        { name: 'web', cidrs: ['10.2.0.0/24'] },
        { name: 'db', cidrs: ['10.1.1.5/24'] },
      ],
      [
        { from: 'web', to: 'nosuch' },
        { from: 'web', to: 'db', ports: ['80'] },
        { from: 'web', to: 'db', protocol: 'tcp', ports: ['90-80', '70000'] },
        { from: 'web', to: 'db', protocol: 'icmp' },
        { from: 'web', to: 'db', protocol: 'icmp' },
      ],
    ),
  );
  const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
  t.regex(byPath['/groups/0/cidrs/1'] ?? '', /duplicate CIDR 10\.1\.0\.0\/24/);
  t.regex(byPath['/groups/1/name'] ?? '', /duplicate group "web"/);
  t.regex(byPath['/groups/1/cidrs/0'] ?? '', /outside ipRange 10\.1\.0\.0\/16/);
  t.regex(byPath['/groups/2/cidrs/0'] ?? '', /not a network address/);
  t.regex(byPath['/associations/0/to'] ?? '', /group "nosuch" is not defined/);
  t.regex(byPath['/associations/1/ports'] ?? '', /need protocol "tcp" or "udp"/);
  t.regex(byPath['/associations/2/ports/0'] ?? '', /"90-80" is not N or N-M/);
  t.regex(byPath['/associations/2/ports/1'] ?? '', /"70000"/);
  t.regex(byPath['/associations/4'] ?? '', /duplicate association \(same as \/associations\/3\)/);
  t.is(issues.length, 9);
});

test('structural errors of the new fields name the field: unknown protocol, malformed port, unknown key', (t) => {
  const issues = issuesOf(
    withAccess(
      [{ name: 'web', cidrs: ['10.1.0.0/24'], extra: 1 }],
      [{ from: 'web', to: 'web', protocol: 'sctp', ports: ['x'] }],
    ),
  );
  const paths = issues.map((i) => i.path);
  t.true(paths.includes('/associations/0/protocol'), JSON.stringify(issues));
  t.true(paths.includes('/associations/0/ports/0'));
  t.true(paths.some((p) => p.startsWith('/groups/0')));
});

test('without associations nothing changes: no policy, and the derived resource has no access field', (t) => {
  const def = addGroup(base, { name: 'web', cidrs: ['10.1.0.0/24'], intraGroup: true });
  t.is(accessPolicyOf(def), null);
  t.false('access' in resourceFor(def, 'a'));
  t.false('access' in resourceFor(base, 'a'));
  t.deepEqual(explainFlow(def, { from: '10.1.0.5', to: '10.1.1.5', protocol: 'tcp', port: 22 }), {
    allow: true,
    by: 'no associations: the whole network may talk',
  });
});

test('the verbs add and remove groups and associations, bump the revision and never mutate their input', (t) => {
  const before = JSON.stringify(base);
  let def = addGroup(base, { name: 'web', cidrs: ['10.1.0.0/24'] });
  def = addGroup(def, { name: 'db', cidrs: ['10.1.1.0/25'] });
  def = associate(def, { from: 'web', to: 'db', protocol: 'tcp', ports: ['5432'] });
  t.is(def.revision, base.revision + 3);
  t.is(JSON.stringify(base), before);
  t.deepEqual(def.associations, [{ from: 'web', to: 'db', protocol: 'tcp', ports: ['5432'] }]);
  const duplicate = t.throws(() => associate(def, { from: 'web', to: 'db', protocol: 'tcp', ports: ['5432'] }), {
    instanceOf: NetdefValidationError,
  });
  t.regex(duplicate.message, /\/associations\/1: duplicate association/);
  t.throws(() => addGroup(def, { name: 'web', cidrs: ['10.1.2.0/24'] }), { message: /group "web" already exists/ });
  t.throws(() => addGroup(def, { name: 'far', cidrs: ['10.9.0.0/24'] }), {
    message: /\/groups\/2\/cidrs\/0: 10\.9\.0\.0\/24 is outside ipRange/,
  });
  t.throws(() => removeGroup(def, 'db'), { message: /used by this association: dissociate it first/ });
  t.throws(() => dissociate(def, { from: 'web', to: 'db' }), { message: /no association web -> db/ });
  def = dissociate(def, { from: 'web', to: 'db', protocol: 'tcp', ports: ['5432'] });
  def = removeGroup(removeGroup(def, 'db'), 'web');
  t.false('groups' in def);
  t.false('associations' in def);
});

test('explain: one-way by default, bothWays, intraGroup, protocol and ports, ungrouped, outside the range, same NR', (t) => {
  let def = addGroup(base, { name: 'web', cidrs: ['10.1.0.0/24'] });
  def = addGroup(def, { name: 'db', cidrs: ['10.1.1.0/25'], intraGroup: true });
  def = addGroup(def, { name: 'ops', cidrs: ['10.1.2.0/24'] });
  def = associate(def, { from: 'web', to: 'db', protocol: 'tcp', ports: ['5432', '6000-6010'] });
  def = associate(def, { from: 'ops', to: 'web', bothWays: true });
  const explain = (from: string, to: string, protocol: 'tcp' | 'udp' | 'icmp', port?: number) =>
    explainFlow(def, { from, to, protocol, ...(port ? { port } : {}) });
  t.deepEqual(explain('10.1.0.9', '10.1.1.7', 'tcp', 5432), { allow: true, by: 'association 0 (web -> db)' });
  t.true(explain('10.1.0.9', '10.1.1.7', 'tcp', 6005).allow);
  t.deepEqual(explain('10.1.0.9', '10.1.1.7', 'tcp', 22), { allow: false, by: 'default: no association allows it' });
  t.false(explain('10.1.0.9', '10.1.1.7', 'udp', 5432).allow, 'protocol matters');
  t.false(explain('10.1.1.7', '10.1.0.9', 'tcp', 5432).allow, 'one way: db may not open connections to web');
  t.false(explain('10.1.0.9', '10.1.1.200', 'tcp', 5432).allow, 'outside the db group');
  t.deepEqual(explain('10.1.0.9', '10.1.2.3', 'icmp'), { allow: true, by: 'association 1 (web -> ops, bothWays)' });
  t.deepEqual(explain('10.1.2.3', '10.1.0.9', 'udp', 53), { allow: true, by: 'association 1 (ops -> web)' });
  t.true(explain('10.1.1.3', '10.1.1.4', 'tcp', 1).allow, 'same NR');
  t.regex(explain('10.1.1.3', '10.1.1.4', 'tcp', 1).by, /bridged/);
  t.false(explain('10.1.5.1', '10.1.0.9', 'tcp', 80).allow, 'an address in no group is denied');
  t.regex(explain('10.1.0.9', '192.0.2.1', 'tcp', 443).by, /outside ipRange/);
  t.throws(() => explain('10.1.0.999', '10.1.0.1', 'tcp', 1), {
    message: /from: "10\.1\.0\.999" is not an IPv4 address/,
  });
});

test('intraGroup lets members of a group spanning two NRs talk; without it they may not', (t) => {
  let def = addGroup(base, { name: 'span', cidrs: ['10.1.0.0/24', '10.1.1.0/24'], intraGroup: true });
  def = addGroup(def, { name: 'other', cidrs: ['10.1.2.0/24'] });
  def = associate(def, { from: 'other', to: 'span' });
  t.deepEqual(explainFlow(def, { from: '10.1.0.2', to: '10.1.1.2', protocol: 'icmp' }), {
    allow: true,
    by: 'group span (intraGroup)',
  });
  const policy = accessPolicyOf(def)!;
  t.deepEqual(
    policy.rules.map((r) => r.origin),
    ['association 0 (other -> span)', 'group span (intraGroup)'],
  );
  t.deepEqual(resourceFor(def, 'b').access, policy, 'every NR carries the whole policy');
});
