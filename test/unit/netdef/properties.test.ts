/**
 * Properties of the derivation over random valid networks: one relay hop at most between any two
 * NRs (both directions, with WireGuard's source check), no overlapping allowed IPs on a device,
 * hidden NRs only ever get the aggregator's endpoint; and of allocation: remove + add reuses the
 * freed /24 and port, reprovision keeps subnet, port and address and re-seals correctly.
 */

import test from 'ava';
import fc from 'fast-check';
import {
  type NetworkDefinition,
  type NodeResource,
  addNode,
  openResourceKey,
  parseCidr,
  parseNetworkDefinition,
  rangeOf,
  removeNode,
  reprovisionNode,
  resourceFor,
  sodiumKeySource,
  unsealKey,
} from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from './fixtures.js';
import { type PoolEntry, definitionOf, keyPool, shapes } from './generators.js';

let pool: PoolEntry[] = [];
const INTERNET = 0xcb00710a; // 203.0.113.10

test.before(async () => {
  await initKeys();
  pool = keyPool();
});

/** A device's allowed-IPs table: longest-prefix match over its peers, as WireGuard does. */
class AllowedIps {
  readonly byLength = new Map<number, Map<number, string>>();
  readonly entries: Array<{ first: number; last: number; prefix: number; peer: string }> = [];

  constructor(resource: NodeResource) {
    for (const peer of resource.peers) {
      for (const text of peer.allowedIps) {
        const cidr = parseCidr(text)!;
        const { first, last } = rangeOf(cidr);
        let table = this.byLength.get(cidr.prefix);
        if (!table) this.byLength.set(cidr.prefix, (table = new Map()));
        table.set(first, peer.node);
        this.entries.push({ first, last, prefix: cidr.prefix, peer: peer.node });
      }
    }
  }

  lookup(address: number): string | undefined {
    for (let length = 32; length >= 0; length--) {
      const table = this.byLength.get(length);
      if (!table) continue;
      const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
      const peer = table.get((address & mask) >>> 0);
      if (peer !== undefined) return peer;
    }
    return undefined;
  }
}

function derive(def: NetworkDefinition): Map<string, { resource: NodeResource; table: AllowedIps }> {
  return new Map(
    def.resources.map((r) => {
      const resource = resourceFor(def, r.node);
      return [r.node, { resource, table: new AllowedIps(resource) }];
    }),
  );
}

function parsed(doc: unknown): NetworkDefinition {
  const result = parseNetworkDefinition(doc);
  if (!result.ok) throw new Error(`generator made an invalid definition: ${JSON.stringify(result.errors.slice(0, 3))}`);
  return result.value;
}

/** Sends from `from` to `address`: the path of NRs it takes through the mesh (at most 2 hops). */
function route(devices: ReturnType<typeof derive>, from: string, address: number, source: number): string[] | string {
  const first = devices.get(from)!.table.lookup(address);
  if (first === undefined) return `${from} has no peer for the address`;
  // The receiving device accepts the packet only if its source routes back to the sender.
  if (devices.get(first)!.table.lookup(source) !== from) return `${first} drops the packet from ${from} (source check)`;
  return [first];
}

test('every NR reaches every other NR (subnet and wg address) in at most one relay hop, both ways', (t) => {
  fc.assert(
    fc.property(shapes, (shape) => {
      const def = parsed(definitionOf(shape, pool));
      const devices = derive(def);
      const subnetOf = new Map(def.resources.map((r) => [r.node, rangeOf(parseCidr(r.subnet)!).first]));
      for (const x of def.resources) {
        const source = subnetOf.get(x.node)! + 10;
        for (const y of def.resources) {
          if (x === y) continue;
          const targets = [subnetOf.get(y.node)! + 1, (0x64400000 | ((subnetOf.get(y.node)! >>> 8) & 0xffff)) >>> 0];
          for (const target of targets) {
            const hop = route(devices, x.node, target, source);
            if (typeof hop === 'string') throw new Error(hop);
            const via = hop[0]!;
            if (via === y.node) continue;
            const second = route(devices, via, target, source);
            if (typeof second === 'string') throw new Error(`relay: ${second}`);
            if (second[0] !== y.node)
              throw new Error(`${x.node} -> ${via} -> ${second[0]}, not ${y.node}: more than one relay hop`);
          }
        }
      }
      return true;
    }),
    { numRuns: 12 },
  );
  t.pass();
});

test('with an exit, every other NR reaches the Internet through the exit in at most one relay hop', (t) => {
  fc.assert(
    fc.property(
      shapes.filter((s) => s.exitPick !== null),
      (shape) => {
        const def = parsed(definitionOf(shape, pool));
        const devices = derive(def);
        for (const x of def.resources) {
          const { resource, table } = devices.get(x.node)!;
          if (x.node === def.exit) {
            if (resource.egress !== 'ndmz' || table.lookup(INTERNET) !== undefined)
              throw new Error('the exit must egress itself');
            continue;
          }
          if (resource.egress !== 'mesh') throw new Error(`${x.node} should egress via the mesh`);
          const first = table.lookup(INTERNET);
          const path = first === def.exit ? [first] : [first, first && devices.get(first)!.table.lookup(INTERNET)];
          if (path[path.length - 1] !== def.exit && !(first === def.aggregator && def.aggregator === def.exit)) {
            throw new Error(`${x.node} reaches the Internet via ${path.join(' -> ')}, not the exit ${def.exit}`);
          }
        }
        return true;
      },
    ),
    { numRuns: 10 },
  );
  t.pass();
});

test("no device has overlapping allowed IPs (only 0.0.0.0/0 may contain another peer's prefix)", (t) => {
  fc.assert(
    fc.property(shapes, (shape) => {
      const def = parsed(definitionOf(shape, pool));
      for (const { resource, table } of derive(def).values()) {
        const entries = [...table.entries].sort((a, b) => a.first - b.first || a.prefix - b.prefix);
        const open: typeof entries = []; // stack of prefixes containing the current position
        for (const entry of entries) {
          while (open.length > 0 && open[open.length - 1]!.last < entry.first) open.pop();
          for (const outer of open) {
            if (outer.peer === entry.peer)
              throw new Error(`${resource.node}: ${entry.peer} lists nested prefixes (not canonical)`);
            if (outer.prefix !== 0)
              throw new Error(`${resource.node}: a prefix of ${entry.peer} lies inside one of ${outer.peer}`);
          }
          open.push(entry);
        }
      }
      return true;
    }),
    { numRuns: 15 },
  );
  t.pass();
});

test('a hidden NR peers only with the aggregator (its endpoint, keepalive 25); hidden peers never get an endpoint', (t) => {
  fc.assert(
    fc.property(shapes, (shape) => {
      const def = parsed(definitionOf(shape, pool));
      const hidden = new Set(def.resources.filter((r) => r.hidden).map((r) => r.node));
      const aggregator = def.resources.find((r) => r.node === def.aggregator);
      for (const { resource } of derive(def).values()) {
        for (const peer of resource.peers) {
          if (hidden.has(peer.node) && peer.endpoint !== null)
            throw new Error(`${resource.node} got hidden ${peer.node}'s endpoint`);
        }
        if (!resource.hidden) continue;
        if (resource.peers.length !== 1) throw new Error(`hidden ${resource.node} has ${resource.peers.length} peers`);
        const [peer] = resource.peers;
        if (
          peer!.node !== def.aggregator ||
          peer!.endpoint !== aggregator!.endpoints[0] ||
          peer!.persistentKeepalive !== 25
        ) {
          throw new Error(`hidden ${resource.node}: wrong aggregator entry ${JSON.stringify(peer)}`);
        }
      }
      return true;
    }),
    { numRuns: 15 },
  );
  t.pass();
});

test('remove + add reuses the freed /24 and listen port', (t) => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 2, maxLength: 20 }), fc.nat(), (hiddenFlags, pick) => {
      const nodes = hiddenFlags.map((hidden, i) => makeNode(`n${i}`, i === 0 ? false : hidden));
      const def = buildNetwork('reuse', '10.40.0.0/16', nodes, 'n0');
      const candidates = def.resources.filter((r) => r.node !== def.aggregator);
      if (candidates.length === 0) return true;
      const victim = candidates[pick % candidates.length]!;
      const removed = removeNode(def, victim.node);
      const added = addNode(removed, makeNode('newcomer', victim.hidden).record, sodiumKeySource);
      const newcomer = added.resources.find((r) => r.node === 'newcomer')!;
      return (
        newcomer.subnet === victim.subnet &&
        newcomer.listenPort === victim.listenPort &&
        added.revision === def.revision + 2
      );
    }),
    { numRuns: 15 },
  );
  t.pass();
});

test('reprovision keeps subnet, port and wg address; the old identity cannot open the new seal, the new one can', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.nat(), fc.boolean(), (count, pick, rotateKey) => {
      const nodes = Array.from({ length: count }, (_, i) => makeNode(`n${i}`, false));
      const def = buildNetwork('repro', '10.50.0.0/16', nodes);
      const target = nodes[pick % count]!;
      const id = target.record.id;
      const reinstalled = makeNode(id, false, '198.51.100.200');
      const next = reprovisionNode(
        def,
        id,
        reinstalled.record,
        { rotateKey, oldIdentity: target.identity.privateKey },
        sodiumKeySource,
      );
      const before = resourceFor(def, id);
      const after = resourceFor(next, id);
      if (
        after.subnet !== before.subnet ||
        after.listenPort !== before.listenPort ||
        after.wgAddress !== before.wgAddress
      )
        return false;
      if ((after.wgPublicKey !== before.wgPublicKey) !== rotateKey) return false;
      const resource = next.resources.find((r) => r.node === id)!;
      try {
        unsealKey(resource.wgPrivateKeySealed, target.identity.privateKey);
        return false; // the old identity must not open the new seal
      } catch {
        /* expected */
      }
      return openResourceKey(resource, reinstalled.identity.privateKey).publicKey() === after.wgPublicKey;
    }),
    { numRuns: 12 },
  );
  t.pass();
});
