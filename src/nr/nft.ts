/**
 * nftables tables as typed values and the builders of the statements zmesh uses (nft's JSON
 * schema, libnftables-json(5)). Loading and reading tables is src/nr/kernel's job.
 *
 * Statements are built in exactly the form `nft -j list table` prints them (sets sorted by
 * address, `ct state` as an "in" match, ...), so a table read back from the kernel equals the
 * planned one with plain deep equality and diff needs no nft-specific normalisation. The netns
 * tests load every planned table into a real namespace and check that round trip.
 */
import { type Cidr, compareCidr, formatIpv4, parseCidr } from '../netdef/index.js';

export type NftFamily = 'inet' | 'ip' | 'bridge';

/** One statement of a rule, as nft's JSON schema spells it. */
export type NftStatement = { readonly [key: string]: unknown };

export interface NftChain {
  readonly name: string;
  readonly type: 'filter' | 'nat';
  readonly hook: 'input' | 'forward' | 'output' | 'prerouting' | 'postrouting';
  /** Numeric priority as nft prints it (filter 0, srcnat 100, bridge filter -200). */
  readonly prio: number;
  readonly policy: 'accept' | 'drop';
  readonly rules: readonly (readonly NftStatement[])[];
}

export interface NftTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly chains: readonly NftChain[];
}

export const PRIORITY = { filter: 0, srcnat: 100, bridgeFilter: -200 } as const;

// ------------------------------------------------------------------ statements

export const accept: NftStatement = { accept: null };
export const drop: NftStatement = { drop: null };
export const masquerade: NftStatement = { masquerade: null };

export const ctEstablishedOrRelated: NftStatement = {
  match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] },
};

export function iifname(name: string): NftStatement {
  return { match: { op: '==', left: { meta: { key: 'iifname' } }, right: name } };
}

export function oifname(name: string, op: '==' | '!=' = '=='): NftStatement {
  return { match: { op, left: { meta: { key: 'oifname' } }, right: name } };
}

function prefixValue(cidr: Cidr): unknown {
  return cidr.prefix === 32 ? formatIpv4(cidr.address) : { prefix: { addr: formatIpv4(cidr.address), len: cidr.prefix } };
}

function parseBuiltIn(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`nft builder: bad prefix ${text}`); // built-in constants only
  return cidr;
}

/** `ip saddr|daddr PREFIX` or `ip saddr|daddr { P1, P2 }` (nft sorts sets by address). */
export function ipAddressIn(field: 'saddr' | 'daddr', prefixes: readonly string[]): NftStatement {
  const parsed = prefixes.map(parseBuiltIn).sort(compareCidr);
  const right = parsed.length === 1 ? prefixValue(parsed[0]!) : { set: parsed.map(prefixValue) };
  return { match: { op: '==', left: { payload: { protocol: 'ip', field } }, right } };
}

/** `tcp flags syn tcp option maxseg size set rt mtu`: clamp the MSS of SYNs to the route's MTU. */
export const clampMssToRouteMtu: readonly NftStatement[] = [
  { match: { op: 'in', left: { payload: { protocol: 'tcp', field: 'flags' } }, right: 'syn' } },
  { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: { rt: { key: 'mtu' } } } },
];
