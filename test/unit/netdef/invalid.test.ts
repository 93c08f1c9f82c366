/**
 * Random and mutated invalid definitions: every one is rejected through the ParseResult error
 * path (ok: false, at least one issue with a JSON-pointer path and a message), never by another
 * exception. Mutations take a valid random network and corrupt one thing.
 */

import test from 'ava';
import fc from 'fast-check';
import { parseNetworkDefinition, parseNodeRecord } from '../../../src/netdef/index.js';
import { initKeys } from './fixtures.js';
import { type PoolEntry, definitionOf, keyPool, shapes } from './generators.js';

let pool: PoolEntry[] = [];

test.before(async () => {
  await initKeys();
  pool = keyPool().slice(0, 40);
});

type Doc = Record<string, any>;
type Mutation = (def: Doc, pick: number) => void;

const smallShapes = shapes.filter((s) => s.count >= 2 && s.count <= 40);
const resourceFields = [
  'node',
  'subnet',
  'wgPublicKey',
  'wgPrivateKeySealed',
  'listenPort',
  'endpoints',
  'hidden',
  'identityKey',
];
const wrongValues = [null, 42, -1, 1.5, 'text', '', true, [], {}, ['x'], { a: 1 }];

function at<T>(items: readonly T[], pick: number): T {
  return items[pick % items.length] as T;
}

// Each mutation makes any valid definition invalid.
const mutations: Record<string, Mutation> = {
  'wrong type of a resource field': (d, p) => {
    const field = at(resourceFields, p);
    const value = at(
      wrongValues.filter(
        (v) =>
          typeof v !== typeof d.resources[0][field] ||
          Array.isArray(v) !== Array.isArray(d.resources[0][field]) ||
          (field === 'listenPort' && v !== 42),
      ),
      p >> 3,
    );
    at(d.resources as Doc[], p >> 6)[field] = value;
  },
  'wrong type of a top-level field': (d, p) => {
    d[at(['version', 'name', 'revision', 'ipRange', 'resources'], p)] = at([null, {}, 'x y', -3, 2.5], p >> 3);
  },
  'bad CIDR': (d, p) =>
    (at(d.resources as Doc[], p).subnet = at(
      ['10.0.0.0/33', '10.0.0/24', '256.1.1.0/24', '10.01.0.0/24', 'x', '10.0.0.0/24/1'],
      p >> 4,
    )),
  'bad ipRange': (d, p) =>
    (d.ipRange = at(
      ['100.64.0.0/16', '127.0.0.0/8', '10.0.0.0/7', '10.1.0.1/16', '224.0.0.0/8', '10.0.0.0/25', '169.254.0.0/16'],
      p,
    )),
  'overlapping subnet': (d, p) => {
    const resources = d.resources as Doc[];
    const a = p % resources.length;
    const b = (a + 1 + ((p >> 4) % (resources.length - 1))) % resources.length;
    resources[b]!.subnet = resources[a]!.subnet;
  },
  'duplicate key': (d, p) => {
    const resources = d.resources as Doc[];
    const field = at(['wgPublicKey', 'identityKey', 'node', 'listenPort'], p);
    resources[1]![field] = resources[0]![field];
  },
  'out-of-range port': (d, p) => (at(d.resources as Doc[], p).listenPort = at([0, -1, 65536, 1e9, 22.5], p >> 4)),
  'unknown field': (d, p) => {
    if (p % 2) d[`extra${p % 7}`] = 1;
    else at(d.resources as Doc[], p >> 1)[`x-${p % 5}`] = 'y';
  },
  'missing field': (d, p) => {
    if (p % 3 === 0) delete d[at(['version', 'name', 'revision', 'ipRange', 'resources'], p >> 2)];
    else delete at(d.resources as Doc[], p >> 2)[at(resourceFields, p >> 6)];
  },
  'bad revision': (d, p) => (d.revision = at([-1, 0.5, '3', null, 2 ** 53 + 2], p)),
  'malformed key': (d, p) =>
    (at(d.resources as Doc[], p)[at(['wgPublicKey', 'identityKey', 'wgPrivateKeySealed'], p >> 4)] = at(
      ['', 'AAAA', `${'A'.repeat(43)}B`, `${'A'.repeat(43)}=`.replace('A', '*')],
      p >> 6,
    )),
  'malformed endpoint': (d, p) => {
    const resource = (d.resources as Doc[]).find((r) => !r.hidden)!;
    resource.endpoints = [at(['198.51.100.1', 'host:0', '[::1', '::1:5', 'a..b:1', 'x:70000', '-bad-.host:1', ''], p)];
  },
  'role errors': (d, p) => {
    const hidden = (d.resources as Doc[]).find((r) => r.hidden);
    const choice = p % 4;
    if (choice === 0) d.aggregator = 'not-a-member';
    else if (choice === 1) d.exit = 'not-a-member';
    else if (choice === 2 && hidden) d.aggregator = hidden.node;
    else if (hidden) d.exit = hidden.node;
    else {
      (d.resources as Doc[])[0]!.endpoints = [];
      (d.resources as Doc[])[0]!.hidden = false;
    }
  },
};

function assertRejected(doc: unknown): void {
  const result = parseNetworkDefinition(doc); // must not throw
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(doc).slice(0, 300)}`);
  if (result.errors.length === 0) throw new Error('rejected without an issue');
  for (const issue of result.errors) {
    if (typeof issue.path !== 'string' || (issue.path !== '' && !issue.path.startsWith('/')))
      throw new Error(`bad path ${issue.path}`);
    if (typeof issue.message !== 'string' || issue.message.length === 0) throw new Error('empty message');
  }
}

for (const [name, mutate] of Object.entries(mutations)) {
  test(`a valid definition with ${name} is rejected through ParseResult, never another exception`, (t) => {
    fc.assert(
      fc.property(smallShapes, fc.nat(), (shape, pick) => {
        const doc = definitionOf(shape, pool);
        if (!parseNetworkDefinition(structuredClone(doc)).ok) throw new Error('generator produced an invalid base');
        mutate(doc, pick);
        assertRejected(doc);
      }),
      { numRuns: 25 },
    );
    t.pass();
  });
}

test('arbitrary JSON values are rejected through ParseResult and never throw', (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assertRejected(value);
      const record = parseNodeRecord(value);
      if (record.ok) throw new Error('accepted a random node record');
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('arbitrary objects shaped like definitions (random fields of random types) are rejected, never throw', (t) => {
  const field = fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.constant('10.1.0.0/16'));
  const resource = fc.record(
    {
      node: field,
      subnet: field,
      wgPublicKey: field,
      wgPrivateKeySealed: field,
      listenPort: field,
      endpoints: fc.array(field),
      hidden: field,
      identityKey: field,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      fc.record(
        {
          version: field,
          name: field,
          revision: field,
          ipRange: field,
          resources: fc.array(resource, { maxLength: 4 }),
          aggregator: field,
        },
        { requiredKeys: [] },
      ),
      (doc) => {
        const result = parseNetworkDefinition(doc);
        if (result.ok) throw new Error('accepted');
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});
