/**
 * fast-check generators of valid network definitions (1-200 NRs, random hidden/public mix with
 * an aggregator when needed, optional exit, random range, subnets and ports), built from a pool
 * of real keys so that every sealed key is a real sealed box.
 */

import fc from 'fast-check';
import { type KeyPair, generateKeyPair, sealKey } from '../../../src/netdef/index.js';

export interface PoolEntry {
  identity: KeyPair;
  wg: KeyPair;
  sealed: string;
}

export const MAX_NRS = 200;

/** Real key material for MAX_NRS nodes (call after ready()). */
export function keyPool(): PoolEntry[] {
  return Array.from({ length: MAX_NRS }, () => {
    const identity = generateKeyPair();
    const wg = generateKeyPair();
    return { identity, wg, sealed: sealKey(wg.privateKey, identity.publicKey) };
  });
}

export interface Shape {
  count: number;
  hidden: boolean[];
  prefix: number;
  rangeIndex: number;
  subnetIndexes: number[];
  ports: number[];
  aggregatorPick: number;
  exitPick: number | null;
  withAggregatorAlways: boolean;
  hostnames: boolean[];
}

export const shapes: fc.Arbitrary<Shape> = fc.integer({ min: 1, max: MAX_NRS }).chain((count) => {
  const minPrefix = 8;
  const maxPrefix = Math.min(24, 24 - Math.ceil(Math.log2(count + 1)));
  return fc.integer({ min: minPrefix, max: maxPrefix }).chain((prefix) => {
    const blocks = 2 ** (24 - prefix);
    return fc.record({
      count: fc.constant(count),
      hidden: fc.array(fc.boolean(), { minLength: count, maxLength: count }),
      prefix: fc.constant(prefix),
      rangeIndex: fc.integer({ min: 0, max: 2 ** (prefix - 8) - 1 }),
      // The last /24 is left out: in 10.255.255.0/24 it would map to 100.64.255.255.
      subnetIndexes: fc.uniqueArray(fc.integer({ min: 0, max: blocks - 2 }), { minLength: count, maxLength: count }),
      ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: count, maxLength: count }),
      aggregatorPick: fc.nat(),
      exitPick: fc.option(fc.nat(), { nil: null }),
      withAggregatorAlways: fc.boolean(),
      hostnames: fc.array(fc.boolean(), { minLength: count, maxLength: count }),
    });
  });
});

/** Builds the definition document of a shape (a plain JSON object, not yet parsed). */
export function definitionOf(shape: Shape, pool: readonly PoolEntry[]): Record<string, any> {
  const hidden = [...shape.hidden];
  if (hidden.every(Boolean)) hidden[0] = false; // an aggregator must exist when any NR is hidden
  const rangeBase = ((10 << 24) | (shape.rangeIndex << (32 - shape.prefix))) >>> 0;
  const resources = hidden.map((isHidden, i) => {
    const subnet = (rangeBase + ((shape.subnetIndexes[i] ?? 0) << 8)) >>> 0;
    const port = shape.ports[i] ?? 1;
    const entry = pool[i] as PoolEntry;
    const host = shape.hostnames[i] ? `node-${i}.example.net` : `198.51.100.${i % 250}`;
    return {
      node: `n${i}`,
      subnet: `${ipv4(subnet)}/24`,
      wgPublicKey: entry.wg.publicKey,
      wgPrivateKeySealed: entry.sealed,
      listenPort: port,
      endpoints: isHidden ? [] : [`${host}:${port}`],
      hidden: isHidden,
      identityKey: entry.identity.publicKey,
    };
  });
  const publics = resources.filter((r) => !r.hidden);
  const def: Record<string, any> = {
    version: 1,
    name: `net-${shape.count}`,
    revision: shape.count,
    ipRange: `${ipv4(rangeBase)}/${shape.prefix}`,
    resources,
  };
  if (hidden.some(Boolean) || shape.withAggregatorAlways)
    def.aggregator = publics[shape.aggregatorPick % publics.length]?.node;
  if (shape.exitPick !== null) def.exit = publics[shape.exitPick % publics.length]?.node;
  return def;
}

export function ipv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}
