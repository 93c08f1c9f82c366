/**
 * Several aggregators per network (aggregators.ts, derive.ts): validation with JSON paths, the
 * library verbs, and the failover property — over random networks with 1-3 aggregators and every
 * non-empty set of live aggregators, the switch rule leaves every live NR one relay hop at most
 * from every other (both ways, with WireGuard's source check) and no device with overlapping
 * allowed IPs.
 */

import test from 'ava';
import fc from 'fast-check';
import {
  FAILOVER_DIAL_KEEPALIVE_SECONDS,
  FAILOVER_KEEPALIVE_SECONDS,
  type NetworkDefinition,
  type NodeResource,
  type PeerPlan,
  aggregatorsOf,
  firstUpAggregator,
  parseCidr,
  parseNetworkDefinition,
  peersWithCurrent,
  rangeOf,
  removeNode,
  resourceFor,
  setAggregators,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';
import { type PoolEntry, definitionOf, keyPool, shapes } from './generators.js';

let pool: PoolEntry[] = [];

test.before(async () => {
  await initKeys();
  pool = keyPool();
});

// ------------------------------------------------------------------ the property

/** Longest-prefix match over a device's peers, as WireGuard routes (and checks sources). */
function tableOf(peers: readonly PeerPlan[]): (address: number) => string | undefined {
  const byLength = new Map<number, Map<number, string>>();
  for (const peer of peers) {
    for (const text of peer.allowedIps) {
      const cidr = parseCidr(text)!;
      let table = byLength.get(cidr.prefix);
      if (!table) byLength.set(cidr.prefix, (table = new Map()));
      table.set(rangeOf(cidr).first, peer.node);
    }
  }
  return (address) => {
    for (let length = 32; length >= 0; length--) {
      const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
      const peer = byLength.get(length)?.get((address & mask) >>> 0);
      if (peer !== undefined) return peer;
    }
    return undefined;
  };
}

function overlapIn(node: string, peers: readonly PeerPlan[]): string | null {
  const entries = peers
    .flatMap((peer) => peer.allowedIps.map((text) => ({ peer: peer.node, ...rangeOf(parseCidr(text)!), text })))
    .sort((a, b) => a.first - b.first || b.last - a.last);
  const open: typeof entries = [];
  for (const entry of entries) {
    while (open.length > 0 && open[open.length - 1]!.last < entry.first) open.pop();
    for (const outer of open) {
      // 0.0.0.0/0 (the exit's entry) may contain other peers' prefixes: longest match decides.
      if (outer.text !== '0.0.0.0/0' || outer.peer === entry.peer)
        return `${node}: ${entry.peer}'s ${entry.text} overlaps ${outer.peer}'s ${outer.text}`;
    }
    open.push(entry);
  }
  return null;
}

/** Random valid networks with 1-3 aggregators (at least as many public NRs), some hidden NRs. */
const failoverNetworks = fc
  .record({
    shape: shapes.filter((s) => s.count >= 2 && s.count <= 24),
    aggregatorCount: fc.integer({ min: 1, max: 3 }),
    order: fc.nat(),
  })
  .map(({ shape, aggregatorCount, order }) => {
    const doc = definitionOf(shape, pool);
    const publics: string[] = doc.resources.filter((r: { hidden: boolean }) => !r.hidden).map((r: any) => r.node);
    const count = Math.min(aggregatorCount, publics.length);
    const chosen = Array.from({ length: count }, (_, i) => publics[(order + i * 7) % publics.length]!);
    const unique = [...new Set(chosen)];
    delete doc.aggregator;
    if (unique.length === 1) doc.aggregator = unique[0];
    else doc.aggregators = unique;
    const parsed = parseNetworkDefinition(doc);
    if (!parsed.ok) throw new Error(`invalid generated network: ${JSON.stringify(parsed.errors.slice(0, 2))}`);
    return parsed.value;
  });

function nonEmptySubsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => mask & (1 << i)));
  return out;
}

/**
 * Every NR's peers once the switch rule has run with `up` the live aggregators: the current one
 * is the first live one, the same for every NR (they all see the same aggregators die).
 */
function devicesWith(def: NetworkDefinition, up: readonly string[]): Map<string, PeerPlan[]> {
  const current = firstUpAggregator(aggregatorsOf(def), (node) => up.includes(node));
  return new Map(
    def.resources.map((r) => {
      const resource: NodeResource = resourceFor(def, r.node);
      return [r.node, current === null ? resource.peers : peersWithCurrent(resource.peers, resource.failover, current)];
    }),
  );
}

test('for every set of live aggregators, every live NR reaches every other in at most one relay hop and no device has overlapping allowed IPs', (t) => {
  let checkedSwitches = 0;
  fc.assert(
    fc.property(failoverNetworks, (def) => {
      const aggregators = aggregatorsOf(def);
      const firstOf = new Map(def.resources.map((r) => [r.node, rangeOf(parseCidr(r.subnet)!).first]));
      for (const up of nonEmptySubsets(aggregators)) {
        if (up[0] !== aggregators[0]) checkedSwitches++;
        const devices = devicesWith(def, up);
        const dead = new Set(aggregators.filter((a) => !up.includes(a)));
        for (const [node, peers] of devices) {
          const overlap = overlapIn(node, peers);
          if (overlap !== null) throw new Error(overlap);
        }
        const live = def.resources.filter((r) => !dead.has(r.node));
        const send = (from: string, to: number, source: number): string => {
          const via = tableOf(devices.get(from)!)(to);
          if (via === undefined) throw new Error(`${from} has no peer for the address`);
          if (dead.has(via)) throw new Error(`${from} sends through the dead aggregator ${via}`);
          if (tableOf(devices.get(via)!)(source) !== from)
            throw new Error(`${via} drops ${from}'s packet (source check)`);
          return via;
        };
        for (const x of live) {
          const source = firstOf.get(x.node)! + 10;
          for (const y of live) {
            if (x === y) continue;
            const subnet = firstOf.get(y.node)!;
            for (const target of [subnet + 1, (0x64400000 | ((subnet >>> 8) & 0xffff)) >>> 0]) {
              const via = send(x.node, target, source);
              if (via === y.node) continue;
              const next = send(via, target, source);
              if (next !== y.node) throw new Error(`${x.node} -> ${via} -> ${next}, not ${y.node}: two relay hops`);
            }
          }
        }
      }
      return true;
    }),
    { numRuns: 40 },
  );
  t.true(checkedSwitches > 0, 'some runs switched away from the preferred aggregator');
});

test('with an exit alive, every live NR reaches the Internet through it in at most one relay hop, whichever aggregators are up', (t) => {
  const INTERNET = 0xcb00710a; // 203.0.113.10
  fc.assert(
    fc.property(
      failoverNetworks.filter((def) => def.exit !== undefined),
      (def) => {
        for (const up of nonEmptySubsets(aggregatorsOf(def))) {
          const dead = new Set(aggregatorsOf(def).filter((a) => !up.includes(a)));
          if (dead.has(def.exit!)) continue; // the exit is one node by design: its loss is the Internet's
          const devices = devicesWith(def, up);
          for (const x of def.resources) {
            if (dead.has(x.node) || x.node === def.exit) continue;
            let at = x.node;
            for (let hops = 0; at !== def.exit; hops++) {
              const next = tableOf(devices.get(at)!)(INTERNET);
              if (next === undefined || dead.has(next) || hops > 1)
                throw new Error(`${x.node} towards the Internet: stuck at ${at} (next ${next}) with up ${up}`);
              at = next;
            }
          }
        }
        return true;
      },
    ),
    { numRuns: 25 },
  );
  t.pass();
});

// ------------------------------------------------------------------ derivation and verbs

function twoAggregators(): NetworkDefinition {
  const nodes = [makeNode('a1', false), makeNode('a2', false), makeNode('p', false), makeNode('h', true)];
  return setAggregators(buildNetwork('fo', '10.9.0.0/16', nodes, 'a1'), ['a1', 'a2']);
}

test('a hidden NR peers with every aggregator: the preferred one carries the range, the other nothing, keepalive 2 s on both', (t) => {
  const def = twoAggregators();
  const hidden = resourceFor(def, 'h');
  t.deepEqual(
    hidden.peers.map((p) => [p.node, p.allowedIps, p.persistentKeepalive]),
    [
      ['a1', ['10.9.0.0/16', '100.64.0.0/16'], FAILOVER_DIAL_KEEPALIVE_SECONDS],
      ['a2', [], FAILOVER_DIAL_KEEPALIVE_SECONDS],
    ],
  );
  t.deepEqual(hidden.failover?.aggregators, ['a1', 'a2']);
  const moved = peersWithCurrent(hidden.peers, hidden.failover, 'a2');
  t.deepEqual(
    moved.map((p) => [p.node, p.allowedIps]),
    [
      ['a1', []],
      ['a2', ['10.9.0.0/16', '100.64.0.0/16']],
    ],
  );
});

test("public NRs move a hidden NR's prefixes to the aggregator now serving it; that aggregator to the hidden NR's own entry", (t) => {
  const def = twoAggregators();
  const h = def.resources.find((r) => r.node === 'h')!;
  const hiddenPrefixes = [h.subnet, `100.64.${h.subnet.split('.')[1]}.${h.subnet.split('.')[2]}/32`];
  const allowed = (resource: NodeResource, current: string) =>
    Object.fromEntries(peersWithCurrent(resource.peers, resource.failover, current).map((p) => [p.node, p.allowedIps]));
  const p = resourceFor(def, 'p');
  t.true(hiddenPrefixes.every((x) => allowed(p, 'a1')['a1']!.includes(x)));
  t.false(hiddenPrefixes.some((x) => allowed(p, 'a2')['a1']!.includes(x)));
  t.true(hiddenPrefixes.every((x) => allowed(p, 'a2')['a2']!.includes(x)));
  const a2 = resourceFor(def, 'a2');
  t.deepEqual(allowed(a2, 'a1')['h'], []);
  t.true(hiddenPrefixes.every((x) => allowed(a2, 'a1')['a1']!.includes(x)));
  t.deepEqual(allowed(a2, 'a2')['h'], hiddenPrefixes.sort());
  t.true(a2.role.aggregator);
  // Each aggregator is heard every second by everyone who may depend on it; the other way is slower.
  t.is(p.peers.find((x) => x.node === 'a2')?.persistentKeepalive, FAILOVER_DIAL_KEEPALIVE_SECONDS);
  t.is(a2.peers.find((x) => x.node === 'p')?.persistentKeepalive, FAILOVER_KEEPALIVE_SECONDS);
  t.is(a2.peers.find((x) => x.node === 'h')?.persistentKeepalive, FAILOVER_KEEPALIVE_SECONDS);
  t.is(a2.peers.find((x) => x.node === 'a1')?.persistentKeepalive, FAILOVER_DIAL_KEEPALIVE_SECONDS);
  t.is(resourceFor(def, 'a1').peers.find((x) => x.node === 'a2')?.persistentKeepalive, FAILOVER_KEEPALIVE_SECONDS);
});

test('one aggregator derives as before: no failover plan, keepalive 25 on the hidden NR', (t) => {
  const def = setAggregators(twoAggregators(), ['a2']);
  t.is(def.aggregator, 'a2');
  t.is(def.aggregators, undefined);
  const hidden = resourceFor(def, 'h');
  t.is(hidden.failover, undefined);
  t.deepEqual(
    hidden.peers.map((p) => [p.node, p.persistentKeepalive]),
    [['a2', 25]],
  );
  t.is(
    resourceFor(def, 'p').peers.find((x) => x.node === 'a2')?.persistentKeepalive,
    null,
    'no keepalive without failover',
  );
});

test('removing an aggregator shortens the list; the last one of hidden NRs cannot be removed', (t) => {
  const def = twoAggregators();
  const without = removeNode(def, 'a1');
  t.is(without.aggregator, 'a2');
  t.is(without.aggregators, undefined);
  t.throws(() => removeNode(without, 'a2'), { message: /is the aggregator of hidden NRs/ });
});

function issuesOf(change: (doc: any) => void): Array<{ path: string; message: string }> {
  const doc = JSON.parse(JSON.stringify(twoAggregators()));
  change(doc);
  const result = parseNetworkDefinition(doc);
  return result.ok ? [] : result.errors;
}

test('validation names the JSON path of each bad aggregator: hidden, unknown, duplicate, empty, both fields', (t) => {
  t.deepEqual(
    issuesOf((d) => (d.aggregators = ['a1', 'h'])).map((i) => i.path),
    ['/aggregators/1'],
  );
  t.regex(issuesOf((d) => (d.aggregators = ['a1', 'h']))[0]!.message, /aggregator "h" is hidden/);
  t.regex(issuesOf((d) => (d.aggregators = ['zz', 'a1']))[0]!.message, /"zz" is not a member/);
  t.deepEqual(issuesOf((d) => (d.aggregators = ['zz', 'a1']))[0]!.path, '/aggregators/0');
  const dup = issuesOf((d) => (d.aggregators = ['a1', 'a2', 'a1']));
  t.deepEqual(
    dup.map((i) => i.path),
    ['/aggregators/2'],
  );
  t.regex(dup[0]!.message, /listed twice \(also \/aggregators\/0\)/);
  t.deepEqual(
    issuesOf((d) => (d.aggregators = [])).map((i) => i.path),
    ['/aggregators'],
  );
  t.regex(issuesOf((d) => (d.aggregator = 'a1'))[0]!.message, /either aggregator .* or aggregators/);
  t.deepEqual(
    issuesOf(() => {}),
    [],
  );
});
