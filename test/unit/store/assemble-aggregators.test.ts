/** The store keeps a network's aggregators: meta + resource keys assemble to the same list, in order. */

import test from 'ava';
import { setAggregators } from '../../../src/netdef/index.js';
import { assembleDefinition, metaOf, readMeta, storedResourcesOf } from '../../../src/store/index.js';
import { buildNetwork, initKeys, makeNode } from '../netdef/fixtures.js';

test('a definition with several aggregators survives the store layout (meta → assembled definition)', async (t) => {
  await initKeys();
  const nodes = [makeNode('a1', false), makeNode('a2', false), makeNode('h', true)];
  const def = setAggregators(buildNetwork('st', '10.8.0.0/16', nodes, 'a1'), ['a2', 'a1']);
  const meta = readMeta('meta', JSON.stringify(metaOf(def)), 'st');
  const back = assembleDefinition('meta', meta, storedResourcesOf(def));
  t.deepEqual(back.aggregators, ['a2', 'a1']);
  t.is(back.aggregator, undefined);
});
