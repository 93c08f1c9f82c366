// Pinning (src/netdef/pinning.ts): a peer's WireGuard key and subnet change only with a record
// naming the node and the field, newer than the applied revision; the tool's verbs write one.
import test from 'ava';
import {
  type NetworkDefinition,
  parseNetworkDefinition,
  pinningIssues,
  removeNode,
  reprovisionNode,
  rotateNodeKey,
  sodiumKeySource,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';

let def: NetworkDefinition;
const bravoNew = () => makeNode('bravo', false);

test.before(async () => {
  await initKeys();
  def = buildNetwork(
    'pins',
    '10.6.0.0/16',
    [makeNode('alpha', false), makeNode('bravo', false), makeNode('hidden', true)],
    'alpha',
  );
});

test('rotate-key: a new key sealed to the node, a rotation record, and pinning accepts it', (t) => {
  const next = rotateNodeKey(def, 'bravo', sodiumKeySource);
  t.not(next.resources[1]!.wgPublicKey, def.resources[1]!.wgPublicKey);
  t.deepEqual(next.identityChanges, [
    { node: 'bravo', revision: next.revision, kind: 'rotate-key', fields: ['wgPublicKey'] },
  ]);
  t.deepEqual(pinningIssues(def, next), []);
  t.true(parseNetworkDefinition(next).ok);
});

test('the same key change without the record, or with a record not newer than the applied revision, is refused naming node and field', (t) => {
  const next = rotateNodeKey(def, 'bravo', sodiumKeySource);
  const { identityChanges: _r, ...bare } = next;
  t.deepEqual(pinningIssues(def, bare as NetworkDefinition), [
    {
      path: '/resources/1/wgPublicKey',
      message:
        'pinned: node "bravo"\'s WireGuard key changed without a rotation or reprovision record for it (zmesh net rotate-key / net reprovision write one)',
    },
  ]);
  // The record of an earlier rotation does not allow a later swap.
  const later = { ...rotateNodeKey(next, 'alpha', sodiumKeySource) };
  const swapped = {
    ...later,
    revision: later.revision + 1,
    resources: later.resources.map((r) =>
      r.node === 'bravo' ? { ...r, wgPublicKey: def.resources[0]!.wgPublicKey } : r,
    ),
  } as NetworkDefinition;
  t.regex(
    pinningIssues(later, swapped)[0]?.message ?? '',
    /with a record of revision \d+, not newer than the applied revision/,
  );
});

test('a subnet moved without a record is refused; new and removed nodes are not pinned', (t) => {
  const moved = {
    ...def,
    revision: def.revision + 1,
    resources: def.resources.map((r) => (r.node === 'hidden' ? { ...r, subnet: '10.6.9.0/24' } : r)),
  } as NetworkDefinition;
  t.deepEqual(
    pinningIssues(def, moved).map((i) => i.path),
    ['/resources/2/subnet'],
  );
  t.deepEqual(pinningIssues(def, removeNode(def, 'hidden')), []);
});

test('reprovision with --rotate-key writes a reprovision record; a re-sealed key (unchanged) needs none; removing the node drops its record', (t) => {
  const fresh = bravoNew();
  const rotated = reprovisionNode(def, 'bravo', fresh.record, { rotateKey: true }, sodiumKeySource);
  t.deepEqual(rotated.identityChanges, [
    { node: 'bravo', revision: rotated.revision, kind: 'reprovision', fields: ['wgPublicKey'] },
  ]);
  t.deepEqual(pinningIssues(def, rotated), []);
  const removed = removeNode(rotated, 'bravo');
  t.is(removed.identityChanges, undefined);
  t.true(parseNetworkDefinition(removed).ok);
});

test('a record for a node not in the network, twice for one node, or after the revision is invalid', (t) => {
  const bad = {
    ...def,
    identityChanges: [
      { node: 'ghost', revision: 1, kind: 'rotate-key', fields: ['wgPublicKey'] },
      { node: 'alpha', revision: def.revision + 1, kind: 'rotate-key', fields: ['wgPublicKey'] },
      { node: 'alpha', revision: 1, kind: 'rotate-key', fields: ['wgPublicKey'] },
    ],
  };
  const result = parseNetworkDefinition(bad);
  t.false(result.ok);
  if (!result.ok)
    t.deepEqual(
      result.errors.map((e) => e.path),
      ['/identityChanges/0/node', '/identityChanges/1/revision', '/identityChanges/2/node'],
    );
});
