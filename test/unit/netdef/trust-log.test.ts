// The trust log (src/netdef/trust-log.ts): admin key changes that survive skipped revisions,
// are never applied twice, are obeyed only from a key trusted at that point, and a log that
// lacks changes a node needs is refused naming them.
import test from 'ava';
import {
  AdminKey,
  type NetworkDefinition,
  type TrustState,
  addTrustChange,
  checkTrustedDefinition,
  followTrustLog,
  parseNetworkDefinition,
  ready,
  signDefinition,
  signTrustChange,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let a: AdminKey;
let b: AdminKey;
let c: AdminKey;
let base: NetworkDefinition;

test.before(async () => {
  await ready();
  await initKeys();
  [a, b, c] = [AdminKey.generate(), AdminKey.generate(), AdminKey.generate()];
  base = signDefinition(
    buildNetwork('trusted', '10.6.0.0/16', [makeNode('alpha', false), makeNode('bravo', false)], 'alpha'),
    a,
  );
});

/** The next revision, unchanged but for its number, signed by `key`. */
const next = (def: NetworkDefinition, key: AdminKey): NetworkDefinition =>
  signDefinition({ ...def, revision: def.revision + 1 } as NetworkDefinition, key);

/** What a node does with a definition: its trust once accepted, or the reason it is refused. */
function accept(state: TrustState, def: NetworkDefinition): TrustState | string {
  const check = checkTrustedDefinition(state, def);
  return check.ok ? check.state : check.reason;
}

test('a node that skipped the revision carrying a trust change follows it from the next one, signed by the new key', (t) => {
  const rotation = signDefinition(addTrustChange(base, { add: [b.publicKey()], remove: [a.publicKey()] }, a), a);
  const byB = next(rotation, b);
  const fresh: TrustState = { keys: [a.publicKey()], through: null };
  // Saw every revision.
  const afterRotation = accept(fresh, rotation) as TrustState;
  t.deepEqual(afterRotation, { keys: [b.publicKey()], through: 1 });
  t.deepEqual(accept(afterRotation, byB), afterRotation, 'nothing left to apply');
  // Skipped the rotation: the latest carries it.
  t.deepEqual(accept(fresh, byB), { keys: [b.publicKey()], through: 1 });
  t.deepEqual(accept({ keys: [a.publicKey()], through: 0 }, byB), { keys: [b.publicKey()], through: 1 });
  // The retired key signs nothing any more, whichever revision it numbers.
  t.regex(accept(afterRotation, next(byB, a)) as string, /which this node does not trust/);
});

test('a change is applied once: an old change signed by a key trusted again later is never replayed', (t) => {
  const one = signDefinition(addTrustChange(base, { add: [b.publicKey()], remove: [a.publicKey()] }, a), a);
  const two = signDefinition(addTrustChange(one, { add: [a.publicKey(), c.publicKey()], remove: [] }, b), b);
  const state = accept({ keys: [a.publicKey()], through: null }, two) as TrustState;
  t.deepEqual(state, { keys: [b.publicKey(), a.publicKey(), c.publicKey()], through: 2 });
  // a is trusted again, but change #1 (a: remove a) is behind the node: a later revision keeps the keys.
  t.deepEqual(accept(state, next(two, a)), state);
  const onlyB = accept({ keys: [b.publicKey()], through: 1 }, two) as TrustState;
  t.deepEqual(onlyB.keys, [b.publicKey(), a.publicKey(), c.publicKey()]);
});

test('a change signed by a key not trusted at that point is passed over, never obeyed: no self-made trust', (t) => {
  const evil = AdminKey.generate();
  const forged = signDefinition(addTrustChange(base, { add: [evil.publicKey()], remove: [a.publicKey()] }, evil), evil);
  t.true(parseNetworkDefinition(forged).ok, 'well formed');
  t.regex(accept({ keys: [a.publicKey()], through: null }, forged) as string, /which this node does not trust/);
  const followed = followTrustLog({ keys: [a.publicKey()], through: null }, forged.trust);
  t.deepEqual(followed, { ok: true, state: { keys: [a.publicKey()], through: 1 }, applied: [] });
  // A node set up later, trusting c only: the changes before its time are history, not its chain.
  const one = signDefinition(addTrustChange(base, { add: [b.publicKey()], remove: [a.publicKey()] }, a), a);
  const two = signDefinition(addTrustChange(one, { add: [c.publicKey()], remove: [b.publicKey()] }, b), c);
  t.deepEqual(accept({ keys: [c.publicKey()], through: null }, two), { keys: [c.publicKey()], through: 2 });
});

test('a change whose signature does not match it is refused naming the change', (t) => {
  const rotation = addTrustChange(base, { add: [b.publicKey()], remove: [] }, a);
  const change = rotation.trust![0]!;
  const altered = signDefinition(
    { ...rotation, trust: [{ ...change, add: [c.publicKey()] }] } as NetworkDefinition,
    a, // the definition is validly signed: only the change is not what its signer signed
  );
  t.is(
    accept({ keys: [a.publicKey()], through: null }, altered),
    `trust change #1: the signature by admin key ${a.publicKey().slice(0, 8)}… does not match it`,
  );
});

test('a log that starts after the changes a node followed is refused naming what it lacks', (t) => {
  let def = base;
  for (const key of [b, c, AdminKey.generate()]) def = addTrustChange(def, { add: [key.publicKey()], remove: [] }, a);
  const pruned = signDefinition({ ...def, trust: def.trust!.slice(2) } as NetworkDefinition, a);
  t.regex(
    accept({ keys: [a.publicKey()], through: 1 }, pruned) as string,
    /followed the trust log to change #1, but the definition's log starts at #3: it lacks trust change #2 \(/,
  );
  t.regex(accept({ keys: [a.publicKey()], through: 0 }, pruned) as string, /it lacks trust change #1–#2/);
  t.like(accept({ keys: [a.publicKey()], through: 2 }, pruned), { through: 3 }, 'nothing lacking');
  t.like(
    accept({ keys: [a.publicKey()], through: null }, pruned),
    { through: 3 },
    'a new node starts where the log does',
  );
});

test('a log with a gap or a change adding and removing nothing is invalid, naming /trust', (t) => {
  const two = addTrustChange(
    addTrustChange(base, { add: [b.publicKey()], remove: [] }, a),
    { add: [c.publicKey()], remove: [] },
    a,
  );
  const gap = { ...JSON.parse(JSON.stringify(two)), trust: [two.trust![0], { ...two.trust![1], seq: 3 }] };
  const parsed = parseNetworkDefinition(gap);
  t.false(parsed.ok);
  t.deepEqual(!parsed.ok && parsed.errors.map((e) => `${e.path}: ${e.message}`), [
    '/trust: change #3 follows #1: a trust log is numbered without gaps',
  ]);
  t.throws(() => addTrustChange(base, { add: [], remove: [] }, a), { message: /adds or removes at least one key/ });
  t.is(signTrustChange(two.trust!, { add: [a.publicKey()], remove: [] }, a).seq, 3);
});
