// `net status --wait` ends on summarizeRollout's `done`: every alive member at the revision, a
// member whose agent is down not holding it up — and never with no member alive, which confirms
// nothing (right after a store was wiped and restored, no agent has written its alive key yet).
import test from 'ava';
import type { NetworkDefinition } from '../../../src/netdef/index.js';
import { summarizeRollout } from '../../../src/store/rollout.js';
import type { Alive, NodeStatus } from '../../../src/store/values.js';
import { buildNetwork, initKeys, makeNode } from '../netdef/fixtures.js';

let def: NetworkDefinition;
const NOW = Date.parse('2026-12-07T17:00:00.000Z');
const alive: Alive = { since: '2026-12-07T16:59:00.000Z', pid: 1 };

test.before(async () => {
  await initKeys();
  def = buildNetwork('net', '10.1.0.0/16', [makeNode('alpha', false), makeNode('bravo', false)]);
});

const applied = (revision: number): NodeStatus => ({
  network: 'net',
  revision,
  state: 'applied',
  time: '2026-12-07T16:59:30.000Z',
});

test('done when every alive member applied the revision; a member that is down does not hold it up', (t) => {
  const r = summarizeRollout(def, new Map([['alpha', alive]]), new Map([['alpha', applied(def.revision)]]), NOW);
  t.true(r.done);
  t.deepEqual(r.laggards, []);
  t.regex(r.summary, /1\/2 nodes at revision \d+; bravo not alive \(never reported\)/);
});

test('not done while an alive member lags', (t) => {
  const r = summarizeRollout(
    def,
    new Map([
      ['alpha', alive],
      ['bravo', alive],
    ]),
    new Map([['alpha', applied(def.revision)]]),
    NOW,
  );
  t.false(r.done);
  t.deepEqual(r.laggards, ['bravo']);
});

test('never done with no member alive, even with every status at the revision (a restored store)', (t) => {
  const statuses = new Map([
    ['alpha', applied(def.revision)],
    ['bravo', applied(def.revision)],
  ]);
  const r = summarizeRollout(def, new Map(), statuses, NOW);
  t.false(r.done);
  t.true(r.noneAlive);
  t.deepEqual(r.laggards, []);
  const empty = summarizeRollout(def, new Map(), new Map(), NOW);
  t.false(empty.done);
  t.regex(empty.summary, /0\/2 nodes at revision \d+; alpha not alive \(never reported\); bravo not alive/);
});
