// The store agent's pure core: inputs in, actions out — no store, no database, no clock.
import test from 'ava';
import {
  addNode,
  createNetwork,
  removeNode,
  setExit,
  sodiumKeySource,
  type NetworkDefinition,
} from '../../../src/netdef/index.js';
import { type AgentAction, type NetworkView, StoreAgentCore } from '../../../src/provisiond/store-agent-core.js';
import { initKeys, makeNode } from '../netdef/fixtures.js';

test.before(initKeys);

const present = (definition: NetworkDefinition): NetworkView => ({
  kind: 'present',
  definition,
  digest: `d${definition.revision}`.padEnd(16, '0'),
});
const core = (known: [string, { revision: number; member: boolean }][] = []) =>
  new StoreAgentCore({
    nodeId: 'alpha',
    cursor: 0,
    known: new Map(known),
    backoff: { baseMs: 100, maxMs: 1000 },
    random: () => 0.5,
  });
const kinds = (actions: AgentAction[]) => actions.map((a) => a.kind);
const commits = (actions: AgentAction[]) => actions.flatMap((a) => (a.kind === 'commit' ? [a] : []));

function network(): NetworkDefinition {
  const [alpha, bravo] = [makeNode('alpha', false), makeNode('bravo', false)];
  return addNode(
    addNode(createNetwork('net', '10.5.0.0/16'), alpha.record, sodiumKeySource),
    bravo.record,
    sodiumKeySource,
  );
}

test('a listing enqueues an apply for each network the node is in, saves the revision with it, then watches from the next', (t) => {
  const agent = core();
  t.deepEqual(agent.handle({ kind: 'start' }), [{ kind: 'list' }]);
  const def = network();
  const other = createNetwork('other', '10.6.0.0/16');
  const actions = agent.handle({
    kind: 'listed',
    revision: 40,
    views: new Map([
      ['net', present(def)],
      ['other', present(other)],
    ]),
  });
  t.deepEqual(kinds(actions), ['commit', 'watch']);
  const [commit] = commits(actions);
  t.is(commit!.cursor, 40);
  const digest = `d${def.revision}`.padEnd(16, '0');
  t.deepEqual(
    commit!.tasks.map((task) => [task.type, task.id]),
    [['network.apply', `store:net:r${def.revision}:${digest}`]],
  );
  t.deepEqual(commit!.remembered, [{ network: 'net', revision: def.revision, member: true }]);
  t.deepEqual(actions[1], { kind: 'watch', fromRevision: 41 });
  // The same listing again (a re-list after a watch error) enqueues nothing.
  agent.handle({ kind: 'watch-failed', error: 'Watcher canceled' });
  const again = agent.handle({ kind: 'listed', revision: 45, views: new Map([['net', present(def)]]) });
  t.deepEqual(commits(again)[0]?.tasks, []);
  // …but confirms it, so a status lost with a wiped store is written again.
  t.deepEqual(
    again.find((a) => a.kind === 'confirm'),
    { kind: 'confirm', network: 'net', revision: def.revision },
  );
});

test('changes: a higher revision is applied, leaving or deletion is a delete, an unrelated network nothing', (t) => {
  const def = network();
  const agent = core([['net', { revision: def.revision, member: true }]]);
  agent.handle({ kind: 'start' });
  agent.handle({ kind: 'listed', revision: 10, views: new Map([['net', present(def)]]) });
  const next = setExit(def, 'bravo');
  let c = commits(agent.handle({ kind: 'changed', revision: 11, views: new Map([['net', present(next)]]) }));
  t.deepEqual(
    c[0]!.tasks.map((x) => x.type),
    ['network.apply'],
  );
  const without = removeNode(setExit(next, undefined), 'alpha');
  c = commits(agent.handle({ kind: 'changed', revision: 12, views: new Map([['net', present(without)]]) }));
  t.deepEqual(c[0]!.tasks, [{ type: 'network.delete', id: 'store:net:delete:12', network: 'net' }]);
  t.deepEqual(c[0]!.remembered, [{ network: 'net', revision: without.revision, member: false }]);
  // Already deleted here: the network's deletion from the store changes nothing more.
  t.deepEqual(
    commits(agent.handle({ kind: 'changed', revision: 13, views: new Map([['net', { kind: 'absent' }]]) }))[0]?.tasks,
    [],
  );
});

test('a network missing from a listing that the node runs is deleted (removed while the agent was offline)', (t) => {
  const agent = core([['gone', { revision: 4, member: true }]]);
  agent.handle({ kind: 'start' });
  const [commit] = commits(agent.handle({ kind: 'listed', revision: 90, views: new Map() }));
  t.deepEqual(commit!.tasks, [{ type: 'network.delete', id: 'store:gone:delete:90', network: 'gone' }]);
});

test('an older revision than the one applied and an invalid network are reported, never enqueued', (t) => {
  const def = network();
  const agent = core([['net', { revision: def.revision + 5, member: true }]]);
  agent.handle({ kind: 'start' });
  const actions = agent.handle({
    kind: 'listed',
    revision: 3,
    views: new Map<string, NetworkView>([
      ['net', present(def)],
      ['bad', { kind: 'bad', error: 'bad value at …' }],
    ]),
  });
  t.deepEqual(kinds(actions), ['commit', 'report', 'report', 'watch']);
  t.deepEqual(commits(actions)[0]!.tasks, []);
  t.regex(
    (actions[2] as { error: string }).error,
    /older than revision 8 this node applied: refused \(never rolled back\)/,
  );
  t.is(agent.known('net')?.revision, def.revision + 5);
});

test('store down: one log line, retries with growing backoff; the next listing logs the recovery once', (t) => {
  const agent = core();
  agent.handle({ kind: 'start' });
  const first = agent.handle({ kind: 'list-failed', error: 'no quorum' });
  t.deepEqual(kinds(first), ['log', 'retry-after']);
  t.deepEqual(agent.handle({ kind: 'retry-timer' }), [{ kind: 'list' }]);
  const second = agent.handle({ kind: 'list-failed', error: 'no quorum' });
  t.deepEqual(kinds(second), ['retry-after']);
  t.true((second[0] as { ms: number }).ms > (first[1] as { ms: number }).ms);
  agent.handle({ kind: 'retry-timer' });
  const back = agent.handle({ kind: 'listed', revision: 5, views: new Map() });
  t.deepEqual(kinds(back), ['log', 'commit', 'watch']);
  t.regex((back[0] as { message: string }).message, /store reachable again/);
  // A batch from a watch given up meanwhile is ignored.
  agent.handle({ kind: 'watch-failed', error: 'x' });
  t.deepEqual(agent.handle({ kind: 'changed', revision: 9, views: new Map() }), []);
});

test('a watch that loses the store logs once and once again when it is back; nothing else happens', (t) => {
  const agent = core();
  agent.handle({ kind: 'start' });
  agent.handle({ kind: 'listed', revision: 5, views: new Map() });
  t.deepEqual(agent.handle({ kind: 'watch-connected' }), []);
  t.deepEqual(kinds(agent.handle({ kind: 'watch-disconnected', error: 'unavailable' })), ['log']);
  t.deepEqual(agent.handle({ kind: 'watch-disconnected', error: 'unavailable' }), []);
  t.deepEqual(kinds(agent.handle({ kind: 'watch-connected' })), ['log']);
  t.deepEqual(agent.handle({ kind: 'watch-connected' }), []);
});

test('a listing older than what the node saw (a wiped or restored store) deletes nothing that is merely absent', (t) => {
  const agent = new StoreAgentCore({
    nodeId: 'alpha',
    cursor: 500,
    known: new Map([['net', { revision: 4, member: true }]]),
    backoff: { baseMs: 100, maxMs: 1000 },
  });
  agent.handle({ kind: 'start' });
  const actions = agent.handle({ kind: 'listed', revision: 3, views: new Map() });
  t.deepEqual(kinds(actions), ['report', 'watch']);
  t.regex((actions[0] as { error: string }).error, /the store was replaced or restored\): kept/);
  // An explicit deletion seen on the watch still deletes.
  const [commit] = commits(
    agent.handle({ kind: 'changed', revision: 9, views: new Map([['net', { kind: 'absent' }]]) }),
  );
  t.deepEqual(
    commit!.tasks.map((x) => x.type),
    ['network.delete'],
  );
});
