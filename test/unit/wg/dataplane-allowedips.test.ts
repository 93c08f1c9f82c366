// The C allowed-IPs trie (native/wg_allowedips.c) against a naive reference
// (scan every prefix, keep the longest that contains the address), on random
// tables with moves and removals, plus hand-written cases.
import test from 'ava';
import fc from 'fast-check';

import { dataplaneTestHooks } from '../../../src/wg/dataplane.js';

type Family = 4 | 6;
interface Entry {
  family: Family;
  bytes: number[];
  prefix: number;
  owner: number;
}

function format(family: Family, bytes: number[]): string {
  if (family === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

function matches(bytes: number[], prefixBytes: number[], prefix: number): boolean {
  for (let i = 0; i < prefix; ++i) {
    const bit = (b: number[]) => (b[i >> 3]! >> (7 - (i & 7))) & 1;
    if (bit(bytes) !== bit(prefixBytes)) return false;
  }
  return true;
}

function key(e: { family: Family; bytes: number[]; prefix: number }): string {
  // The prefix's identity ignores bits beyond its length.
  const bits: number[] = [];
  for (let i = 0; i < e.prefix; ++i) bits.push((e.bytes[i >> 3]! >> (7 - (i & 7))) & 1);
  return `${e.family}/${e.prefix}/${bits.join('')}`;
}

/** The reference: a map of prefix → owner, longest match by scanning. */
class Reference {
  entries = new Map<string, Entry>();
  insert(e: Entry) {
    this.entries.set(key(e), e);
  }
  removeExact(e: Entry) {
    const k = key(e);
    if (this.entries.get(k)?.owner === e.owner) this.entries.delete(k);
  }
  removeOwner(owner: number) {
    for (const [k, e] of this.entries) if (e.owner === owner) this.entries.delete(k);
  }
  lookup(family: Family, bytes: number[]): number | null {
    let best: Entry | null = null;
    for (const e of this.entries.values())
      if (e.family === family && matches(bytes, e.bytes, e.prefix) && (!best || e.prefix > best.prefix)) best = e;
    return best ? best.owner : null;
  }
}

// Addresses drawn from a few shared stems so that prefixes overlap often.
const byteArb = fc.constantFrom(0, 1, 10, 128, 192, 255, 0x20, 0x0f);
const addrArb = (family: Family) =>
  fc.array(byteArb, { minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 });
const entryArb: fc.Arbitrary<Entry> = fc.constantFrom<Family>(4, 6).chain((family) =>
  fc.record({
    family: fc.constant(family),
    bytes: addrArb(family),
    prefix: fc.integer({ min: 0, max: family === 4 ? 32 : 128 }),
    owner: fc.integer({ min: 0, max: 7 }),
  }),
);
type Op = { kind: 'insert'; e: Entry } | { kind: 'removeExact'; e: Entry } | { kind: 'removeOwner'; owner: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: entryArb.map((e) => ({ kind: 'insert' as const, e })) },
  { weight: 2, arbitrary: entryArb.map((e) => ({ kind: 'removeExact' as const, e })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }).map((owner) => ({ kind: 'removeOwner' as const, owner })) },
);
const probeArb = fc
  .constantFrom<Family>(4, 6)
  .chain((family) => fc.record({ family: fc.constant(family), bytes: addrArb(family) }));

test('allowed IPs: longest-prefix match agrees with a naive reference over random inserts, moves and removals (IPv4 and IPv6)', (t) => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 60 }),
      fc.array(probeArb, { minLength: 1, maxLength: 40 }),
      (ops, probes) => {
        const table = new (dataplaneTestHooks().AllowedIpsTable)();
        const ref = new Reference();
        for (const op of ops) {
          if (op.kind === 'insert') {
            if (table.insert(format(op.e.family, op.e.bytes), op.e.prefix, op.e.owner) !== 0) return false;
            ref.insert(op.e);
          } else if (op.kind === 'removeExact') {
            table.removeExact(format(op.e.family, op.e.bytes), op.e.prefix, op.e.owner);
            ref.removeExact(op.e);
          } else {
            table.removeValue(op.owner);
            ref.removeOwner(op.owner);
          }
        }
        // Probe both random addresses and the inserted prefixes themselves.
        const all = [...probes, ...ops.filter((o): o is Extract<Op, { e: Entry }> => 'e' in o).map((o) => o.e)];
        return all.every((p) => table.lookup(format(p.family, p.bytes)) === ref.lookup(p.family, p.bytes));
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('allowed IPs: /0 catches everything of its family only; /32 and /128 match a single address', (t) => {
  const table = new (dataplaneTestHooks().AllowedIpsTable)();
  table.insert('0.0.0.0', 0, 1);
  table.insert('10.0.0.1', 32, 2);
  table.insert('fd00::1', 128, 3);
  t.is(table.lookup('203.0.113.9'), 1);
  t.is(table.lookup('10.0.0.1'), 2);
  t.is(table.lookup('10.0.0.2'), 1);
  t.is(table.lookup('fd00::1'), 3);
  t.is(table.lookup('fd00::2'), null);
  table.insert('::', 0, 4);
  t.is(table.lookup('2001:db8::1'), 4);
  t.is(table.lookup('fd00::1'), 3);
});

test('allowed IPs: overlapping prefixes resolve to the longest one, and host bits beyond the prefix are ignored', (t) => {
  const table = new (dataplaneTestHooks().AllowedIpsTable)();
  table.insert('10.0.0.0', 8, 1);
  table.insert('10.1.0.0', 16, 2);
  table.insert('10.1.2.99', 24, 3); // same as 10.1.2.0/24
  t.is(table.lookup('10.9.9.9'), 1);
  t.is(table.lookup('10.1.9.9'), 2);
  t.is(table.lookup('10.1.2.200'), 3);
  table.removeExact('10.1.2.0', 24, 3);
  t.is(table.lookup('10.1.2.200'), 2);
});

test('allowed IPs: inserting a prefix another peer owns moves it, and the old owner removing it changes nothing', (t) => {
  const table = new (dataplaneTestHooks().AllowedIpsTable)();
  table.insert('192.168.1.0', 24, 1);
  table.insert('192.168.1.0', 24, 2);
  t.is(table.lookup('192.168.1.7'), 2);
  table.removeExact('192.168.1.0', 24, 1);
  t.is(table.lookup('192.168.1.7'), 2);
  table.removeValue(1);
  t.is(table.lookup('192.168.1.7'), 2);
});

test('allowed IPs: removing a peer removes all of its entries and uncovers shorter prefixes of others', (t) => {
  const table = new (dataplaneTestHooks().AllowedIpsTable)();
  table.insert('10.0.0.0', 8, 1);
  table.insert('10.1.0.0', 16, 2);
  table.insert('fd00::', 64, 2);
  table.insert('fd00::', 16, 1);
  table.removeValue(2);
  t.is(table.lookup('10.1.0.5'), 1);
  t.is(table.lookup('fd00::5'), 1);
  table.removeValue(1);
  t.is(table.lookup('10.1.0.5'), null);
  t.is(table.lookup('fd00::5'), null);
});
