/**
 * A small evaluator of exactly the nftables statement shapes src/nr emits in a forward chain
 * (libnftables JSON as nft lists it): matches on ip saddr/daddr (address, prefix, range, set),
 * tcp/udp dport, meta l4proto/iifname/oifname, ct state; accept, drop, and the MSS-clamp mangle.
 * Anything else throws, so a new rule shape cannot be evaluated silently wrong.
 */
import type { NftChain, NftStatement } from '../../../src/nr/nft.js';

export interface Packet {
  readonly iif: string;
  readonly oif: string;
  readonly saddr: string;
  readonly daddr: string;
  readonly l4proto: 'tcp' | 'udp' | 'icmp';
  readonly dport?: number;
  readonly ctState: 'new' | 'established' | 'related';
}

function ipNumber(text: string): number {
  return text.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function matchesIp(right: unknown, address: number): boolean {
  if (typeof right === 'string') return ipNumber(right) === address;
  const r = right as { prefix?: { addr: string; len: number }; range?: [string, string]; set?: unknown[] };
  if (r.prefix) {
    const size = 2 ** (32 - r.prefix.len);
    const first = ipNumber(r.prefix.addr);
    return address >= first && address < first + size;
  }
  if (r.range) return address >= ipNumber(r.range[0]) && address <= ipNumber(r.range[1]);
  if (r.set) return r.set.some((item) => matchesIp(item, address));
  throw new Error(`evaluator: unknown address value ${JSON.stringify(right)}`);
}

function matchesPort(right: unknown, port: number): boolean {
  if (typeof right === 'number') return right === port;
  const r = right as { range?: [number, number]; set?: unknown[] };
  if (r.range) return port >= r.range[0] && port <= r.range[1];
  if (r.set) return r.set.some((item) => matchesPort(item, port));
  throw new Error(`evaluator: unknown port value ${JSON.stringify(right)}`);
}

function matches(statement: NftStatement, p: Packet): boolean {
  const { op, left, right } = statement['match'] as { op: string; left: Record<string, any>; right: unknown };
  let hit: boolean;
  if (left['payload']?.protocol === 'ip') {
    hit = matchesIp(right, ipNumber(left['payload'].field === 'saddr' ? p.saddr : p.daddr));
  } else if (left['payload']?.field === 'dport') {
    hit = p.l4proto === left['payload'].protocol && p.dport !== undefined && matchesPort(right, p.dport);
  } else if (left['payload']?.protocol === 'tcp' && left['payload'].field === 'flags') {
    hit = p.l4proto === 'tcp' && p.ctState === 'new';
  } else if (left['meta']?.key === 'l4proto') {
    hit = p.l4proto === right;
  } else if (left['meta']?.key === 'iifname' || left['meta']?.key === 'oifname') {
    hit = (left['meta'].key === 'iifname' ? p.iif : p.oif) === right;
  } else if (left['ct']?.key === 'state') {
    hit = (Array.isArray(right) ? right : [right]).includes(p.ctState);
  } else {
    throw new Error(`evaluator: unknown match ${JSON.stringify(statement)}`);
  }
  if (op === '!=') return !hit;
  if (op === '==' || op === 'in') return hit;
  throw new Error(`evaluator: unknown op ${op}`);
}

/** A rule's verdict, or null when one of its matches fails (the chain goes on). */
function evaluateRule(rule: readonly NftStatement[], packet: Packet): 'accept' | 'drop' | null {
  for (const statement of rule) {
    if ('match' in statement) {
      if (!matches(statement, packet)) return null;
    } else if ('accept' in statement) {
      return 'accept';
    } else if ('drop' in statement) {
      return 'drop';
    } else if (!('mangle' in statement)) {
      throw new Error(`evaluator: unknown statement ${JSON.stringify(statement)}`);
    }
  }
  return null;
}

/** The verdict of a base chain for `packet` (its policy when no rule decides). */
export function evaluateChain(chain: NftChain, packet: Packet): 'accept' | 'drop' {
  for (const rule of chain.rules) {
    const verdict = evaluateRule(rule, packet);
    if (verdict) return verdict;
  }
  return chain.policy;
}
