/**
 * Several aggregators per network (aggregators.ts, derive.ts): validation with JSON paths, the
 * library verbs, and the failover property — over random networks with 1-3 aggregators, every
 * non-empty set of live aggregators and random broken paths of hidden NRs to some aggregators, the
 * switch rule and the carriers leave every live NR one relay hop at most from every other (two
 * between hidden NRs on different aggregators; both ways, with WireGuard's source check), no
 * traffic on a broken path and no device with overlapping allowed IPs.
 */

import test from 'ava';
import fc from 'fast-check';
import {
  FAILOVER_DIAL_KEEPALIVE_SECONDS,
  FAILOVER_KEEPALIVE_SECONDS,
  type NetworkDefinition,
  type NodeResource,
  type FailoverMove,
  type PeerPlan,
  aggregatorsOf,
  carrierOf,
  firstUpAggregator,
  parseCidr,
  parseNetworkDefinition,
  peersWithCarriers,
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
 * Which aggregators each hidden NR cannot reach (its NAT drops that flow), from a seed: each
 * (hidden NR, aggregator) path is cut with probability 1/4.
 */
function brokenPaths(def: NetworkDefinition, seed: number): Map<string, Set<string>> {
  const aggregators = aggregatorsOf(def);
  let bits = seed >>> 0;
  const next = () => {
    bits = (Math.imul(bits ^ (bits >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
    return bits;
  };
  return new Map(
    def.resources
      .filter((r) => r.hidden)
      .map((r) => [r.node, new Set(aggregators.filter(() => next() % 4 === 0))] as const),
  );
}

/**
 * Every NR's peers once the rules have settled with `up` the live aggregators and `broken` the
 * paths some hidden NRs lost: a hidden NR's current is the first aggregator it hears (its own
 * switch rule); an aggregator hears (and announces) exactly the hidden NRs that use it; every
 * public NR routes each hidden NR by carrierOf over those announcements, its network current
 * being the first live aggregator (they all see the same aggregators die). Hidden NRs that reach
 * no live aggregator are returned as cut off.
 */
function devicesWith(
  def: NetworkDefinition,
  up: readonly string[],
  broken: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): { devices: Map<string, PeerPlan[]>; usedBy: Map<string, string>; cutOff: Set<string> } {
  const aggregators = aggregatorsOf(def);
  const current = firstUpAggregator(aggregators, (node) => up.includes(node));
  const usedBy = new Map<string, string>();
  const cutOff = new Set<string>();
  for (const r of def.resources.filter((x) => x.hidden)) {
    const own = firstUpAggregator(aggregators, (a) => up.includes(a) && !broken.get(r.node)?.has(a));
    if (own === null) cutOff.add(r.node);
    else usedBy.set(r.node, own);
  }
  const devices = new Map(
    def.resources.map((r) => {
      const resource: NodeResource = resourceFor(def, r.node);
      if (current === null) return [r.node, resource.peers];
      if (r.hidden) return [r.node, peersWithCurrent(resource.peers, resource.failover, usedBy.get(r.node) ?? current)];
      const facts = {
        isUp: (a: string) => up.includes(a),
        claimedSince: (a: string, hidden: string) => (usedBy.get(hidden) === a ? 0 : null),
        current,
      };
      const carrier = (move: FailoverMove) =>
        move.hidden === undefined ? current : carrierOf(aggregators, r.node, move.hidden, facts);
      return [r.node, peersWithCarriers(resource.peers, resource.failover, carrier)];
    }),
  );
  return { devices, usedBy, cutOff };
}

/** Relay hops allowed: one, two between hidden NRs on different aggregators (the aggregators relay to each other). */
function allowedHops(usedBy: ReadonlyMap<string, string>, x: string, y: string): number {
  const a = usedBy.get(x);
  const b = usedBy.get(y);
  return a !== undefined && b !== undefined && a !== b ? 2 : 1;
}

test("for every set of live aggregators and of hidden NRs' broken paths, every NR reaches every NR it may (one relay hop, two between hidden NRs on different aggregators) and no device has overlapping allowed IPs", (t) => {
  let checkedSwitches = 0;
  let checkedBroken = 0;
  fc.assert(
    fc.property(failoverNetworks, fc.nat(), (def, seed) => {
      const aggregators = aggregatorsOf(def);
      const firstOf = new Map(def.resources.map((r) => [r.node, rangeOf(parseCidr(r.subnet)!).first]));
      for (const broken of [new Map<string, Set<string>>(), brokenPaths(def, seed)]) {
        for (const up of nonEmptySubsets(aggregators)) {
          if (up[0] !== aggregators[0]) checkedSwitches++;
          const { devices, usedBy, cutOff } = devicesWith(def, up, broken);
          if ([...usedBy].some(([h, a]) => a !== up[0] && broken.get(h)?.has(up[0]!))) checkedBroken++;
          const dead = new Set(aggregators.filter((a) => !up.includes(a)));
          for (const [node, peers] of devices) {
            const overlap = overlapIn(node, peers);
            if (overlap !== null) throw new Error(overlap);
          }
          const cut = (a: string, b: string) => broken.get(a)?.has(b) === true || broken.get(b)?.has(a) === true;
          const live = def.resources.filter((r) => !dead.has(r.node) && !cutOff.has(r.node));
          const send = (from: string, to: number, source: number, origin: string): string => {
            const via = tableOf(devices.get(from)!)(to);
            if (via === undefined) throw new Error(`${from} has no peer for the address`);
            if (dead.has(via)) throw new Error(`${from} sends through the dead aggregator ${via}`);
            if (cut(from, via)) throw new Error(`${from} sends to ${via} over a broken path`);
            if (tableOf(devices.get(via)!)(source) !== from)
              throw new Error(`${via} drops ${origin}'s packet from ${from} (source check)`);
            return via;
          };
          for (const x of live) {
            const source = firstOf.get(x.node)! + 10;
            for (const y of live) {
              if (x === y) continue;
              const subnet = firstOf.get(y.node)!;
              const hops = allowedHops(usedBy, x.node, y.node);
              for (const target of [subnet + 1, (0x64400000 | ((subnet >>> 8) & 0xffff)) >>> 0]) {
                const path = [x.node];
                while (path.at(-1) !== y.node) {
                  if (path.length > hops + 1)
                    throw new Error(`${path.join(' -> ')}, not ${y.node}: more than ${hops} relay hops`);
                  path.push(send(path.at(-1)!, target, source, x.node));
                }
              }
            }
          }
        }
      }
      return true;
    }),
    { numRuns: 25 }, // two cases per network (no broken path, some): about the cost of 40 before
  );
  t.true(checkedSwitches > 0, 'some runs switched away from the preferred aggregator');
  t.true(checkedBroken > 0, 'some runs had a hidden NR move alone');
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
          const { devices } = devicesWith(def, up);
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
