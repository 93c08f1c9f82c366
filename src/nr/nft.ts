/**
 * nftables tables as plan and diff hold them: a table is its family, its name and its base
 * chains, each with its hook fields inline. Statements are src/nr/kernel's builders (nft-rules),
 * which produce exactly what `nft -j` lists back, so a table read from the kernel deep-equals
 * the planned one. This module converts between this shape and the kernel layer's.
 */
import type { NftTable as KernelNftTable, NftStatement } from './kernel/nft.js';

export type { NftStatement } from './kernel/nft.js';
export type NftFamily = 'inet' | 'ip' | 'bridge';

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

/** The kernel layer's shape of a planned table (family and name are passed beside it). */
export function toKernelTable(table: NftTable): KernelNftTable {
  return {
    chains: table.chains.map((c) => ({
      name: c.name,
      hook: { type: c.type, hook: c.hook, priority: c.prio, policy: c.policy },
      rules: c.rules,
    })),
  };
}

/**
 * A table read by the kernel layer, in plan shape. A regular chain (no hook) is something zmesh
 * never makes: it is kept with placeholder hook fields so that it can never equal a plan.
 */
export function fromKernelTable(family: NftFamily, name: string, table: KernelNftTable): NftTable {
  return {
    family,
    name,
    chains: table.chains.map((c) => ({
      name: c.name,
      type: (c.hook?.type ?? 'regular') as NftChain['type'],
      hook: (c.hook?.hook ?? 'none') as NftChain['hook'],
      prio: c.hook?.priority ?? Number.NaN,
      policy: c.hook?.policy ?? 'accept',
      rules: c.rules,
    })),
  };
}
