// Scheduled key rotation (src/netdef/rotation-schedule.ts): keys are stamped when made, those
// older than rotateAfter days (or of unknown age) are due, and rotate-due rotates exactly those,
// each with the rotation record pinning asks for.
import test from 'ava';
import {
  type NetworkDefinition,
  dueKeys,
  parseNetworkDefinition,
  pinningIssues,
  rotateDue,
  rotateNodeKey,
  setRotateAfter,
  sodiumKeySource,
  stampKeyDates,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let def: NetworkDefinition;
const DAY = 86_400_000;
const T0 = new Date('2026-01-01T00:00:00.000Z');

test.before(async () => {
  await initKeys();
  const built = buildNetwork('sched', '10.7.0.0/16', [makeNode('alpha', false), makeNode('bravo', false)], 'alpha');
  def = setRotateAfter(stampKeyDates(undefined, built, T0), 30);
});

test('stamping: every new key gets the time, an unchanged one keeps its own', (t) => {
  t.deepEqual(
    def.resources.map((r) => r.keyCreatedAt),
    [T0.toISOString(), T0.toISOString()],
  );
  const later = new Date(T0.getTime() + 5 * DAY);
  const rotated = stampKeyDates(def, rotateNodeKey(def, 'bravo', sodiumKeySource), later);
  t.deepEqual(
    rotated.resources.map((r) => [r.node, r.keyCreatedAt]),
    [
      ['alpha', T0.toISOString()],
      ['bravo', later.toISOString()],
    ],
  );
  t.is(stampKeyDates(def, def, later), def, 'nothing new: nothing stamped');
});

test('due: older than rotateAfter days, or of unknown age; none without rotateAfter', (t) => {
  t.deepEqual(dueKeys(def, new Date(T0.getTime() + 29 * DAY)), []);
  t.deepEqual(dueKeys(def, new Date(T0.getTime() + 30 * DAY)), [
    { node: 'alpha', ageDays: 30 },
    { node: 'bravo', ageDays: 30 },
  ]);
  const { keyCreatedAt: _k, ...unstamped } = def.resources[1]!;
  const unknown = { ...def, resources: [def.resources[0], unstamped] } as NetworkDefinition;
  t.deepEqual(dueKeys(unknown, new Date(T0.getTime() + DAY)), [{ node: 'bravo', ageDays: null }]);
  t.deepEqual(dueKeys(setRotateAfter(def, undefined), new Date(T0.getTime() + 999 * DAY)), []);
});

test('rotate-due rotates exactly the due keys, stamps them, and pinning accepts the result', (t) => {
  const bravoLater = stampKeyDates(
    def,
    rotateNodeKey(def, 'bravo', sodiumKeySource),
    new Date(T0.getTime() + 20 * DAY),
  );
  const now = new Date(T0.getTime() + 31 * DAY);
  const next = rotateDue(bravoLater, now, sodiumKeySource);
  t.true(parseNetworkDefinition(next).ok);
  const [alpha, bravo] = next.resources;
  t.not(alpha!.wgPublicKey, bravoLater.resources[0]!.wgPublicKey, 'alpha was due');
  t.is(alpha!.keyCreatedAt, now.toISOString());
  t.is(bravo!.wgPublicKey, bravoLater.resources[1]!.wgPublicKey, 'bravo was not');
  t.true(next.revision > bravoLater.revision);
  t.deepEqual(pinningIssues(bravoLater, next), []);
  t.deepEqual(dueKeys(next, now), []);
  t.is(rotateDue(next, now, sodiumKeySource), next, 'nothing due: the same definition');
});

test('rotateAfter outside 1-3650 days is invalid, naming it', (t) => {
  for (const days of [0, 3651, 1.5]) t.throws(() => setRotateAfter(def, days), { message: /rotateAfter/ });
});
