import test from 'ava';
import type { NetworkDefinition } from '../../../src/netdef/index.js';
import { canonicalJson, decideRevision } from '../../../src/networkd/revision.js';

// decideRevision only reads revision and content: plain objects stand in for parsed definitions.
function def(revision: number, extra: Record<string, unknown> = {}): NetworkDefinition {
  return {
    version: 1,
    name: 'n',
    revision,
    ipRange: '10.1.0.0/16',
    resources: [],
    ...extra,
  } as unknown as NetworkDefinition;
}

test('a network not yet stored is applied', (t) => {
  t.deepEqual(decideRevision(undefined, def(0)), { kind: 'apply' });
});

test('a newer revision is applied', (t) => {
  t.deepEqual(decideRevision(def(3), def(4)), { kind: 'apply' });
});

test('an older revision is a conflict that names both revisions', (t) => {
  const d = decideRevision(def(5), def(4));
  t.is(d.kind, 'conflict');
  t.regex(d.kind === 'conflict' ? d.reason : '', /revision 4 is older than the applied revision 5/);
});

test('the same revision with identical content is unchanged, whatever the key order', (t) => {
  const stored = def(2, { exit: 'a', aggregator: 'b' });
  const reordered = {
    aggregator: 'b',
    exit: 'a',
    resources: [],
    ipRange: '10.1.0.0/16',
    revision: 2,
    name: 'n',
    version: 1,
  } as unknown as NetworkDefinition;
  t.deepEqual(decideRevision(stored, reordered), { kind: 'unchanged' });
});

test('the same revision with different content is a conflict asking for a bump', (t) => {
  const d = decideRevision(def(2), def(2, { exit: 'a' }));
  t.is(d.kind, 'conflict');
  t.regex(d.kind === 'conflict' ? d.reason : '', /already applied with different content/);
});

test('canonical JSON sorts keys at every depth but keeps array order', (t) => {
  t.is(canonicalJson({ b: [{ y: 1, x: 2 }, 3], a: 1 }), '{"a":1,"b":[{"x":2,"y":1},3]}');
});
