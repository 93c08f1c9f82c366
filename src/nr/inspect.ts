/**
 * Reads what exists into the shapes diff compares with a plan: per namespace its links,
 * IPv4 addresses, non-kernel main-table routes, the sysctls and nft tables asked about, and the
 * WireGuard device's status from the backend. Reads only; never changes anything.
 */
import { getSysctl, readTable } from './kernel/index.js';
import type { NetnsRef, NamespacePlan, ObservedNamespace } from './model.js';
import type { NftFamily, NftTable } from './nft.js';
import { fromKernelTable } from './nft.js';
import type { KernelSession } from './session.js';

/** What to read in one namespace. */
export interface NamespaceQuery {
  readonly netns: NetnsRef;
  readonly sysctlKeys: readonly string[];
  readonly tables: readonly { readonly family: NftFamily; readonly name: string }[];
  /**
   * Only these links matter and no address or route does (an NR's port in the shared ndmz): read
   * them one by one instead of dumping a namespace that holds every NR's port.
   */
  readonly onlyLinks?: readonly { readonly name: string; readonly master: string | null }[];
}

export function queryOf(plan: NamespacePlan): NamespaceQuery {
  const base = { netns: plan.netns, sysctlKeys: plan.sysctls.map((s) => s.key), tables: plan.nftTables.map((t) => ({ family: t.family, name: t.name })) };
  const slice = !plan.create && !plan.ownsRoutes && plan.addresses.length === 0 && plan.routes.length === 0 && plan.netns.kind === 'named';
  return slice ? { ...base, onlyLinks: plan.links.map((l) => ({ name: l.name, master: l.master })) } : base;
}

/**
 * Decides whether a table must be read from the kernel (a process spawn) or can be taken as
 * known: see NftCache. Default: always read.
 */
export interface TableReader {
  read(session: KernelSession, netns: NetnsRef, family: NftFamily, name: string): Promise<NftTable | null>;
}

export const alwaysRead: TableReader = {
  async read(session, netns, family, name) {
    const table = await readTable(session.path(netns), family, name);
    return table === null ? null : fromKernelTable(family, name, table);
  },
};

export async function inspectNamespace(session: KernelSession, query: NamespaceQuery, tables: TableReader = alwaysRead): Promise<ObservedNamespace> {
  const { netns } = query;
  if (!session.exists(netns)) return { netns, exists: false, links: [], addresses: [], routes: [], sysctls: {}, nftTables: [] };
  const rtnl = session.rtnl(netns);
  if (query.onlyLinks) return inspectLinks(session, query, query.onlyLinks);
  // One dump at a time: a netlink socket interleaves concurrent dumps' multipart answers.
  const links = await rtnl.listLinks();
  const addresses = await rtnl.listAddresses();
  const routes = await rtnl.listRoutes(4);
  const nameOf = new Map(links.map((l) => [l.index, l.name]));
  const sysctls: Record<string, string> = {};
  for (const key of query.sysctlKeys) {
    try {
      sysctls[key] = getSysctl(session.path(netns), key);
    } catch {
      // Unreadable: absent, so diff sets it (and apply reports why if that fails too).
    }
  }
  const nftTables: NftTable[] = [];
  for (const { family, name } of query.tables) {
    const table = await tables.read(session, netns, family, name);
    if (table) nftTables.push(table);
  }
  return {
    netns,
    exists: true,
    links: links.map((l) => ({ name: l.name, kind: l.kind ?? '', mtu: l.mtu, master: l.master === null ? null : (nameOf.get(l.master) ?? null), up: l.up })),
    addresses: addresses.filter((a) => a.family === 4).map((a) => ({ link: a.link, cidr: a.cidr })),
    routes: routes
      .filter((r) => r.protocol !== 'kernel' && r.dev !== null)
      .map((r) => ({ destination: r.destination, gateway: r.gateway, link: r.dev as string })),
    sysctls,
    nftTables,
  };
}

async function inspectLinks(session: KernelSession, query: NamespaceQuery, wanted: NonNullable<NamespaceQuery['onlyLinks']>): Promise<ObservedNamespace> {
  const rtnl = session.rtnl(query.netns);
  const links = [];
  for (const { name, master: plannedMaster } of wanted) {
    const link = await rtnl.getLink(name);
    if (!link) continue;
    let master: string | null = null;
    if (link.master !== null) {
      // Only "is it the planned bridge?" matters to diff; any other master is reported by index.
      const planned = plannedMaster === null ? null : await rtnl.getLink(plannedMaster);
      master = planned && planned.index === link.master ? planned.name : `#${link.master}`;
    }
    links.push({ name: link.name, kind: link.kind ?? '', mtu: link.mtu, master, up: link.up });
  }
  return { netns: query.netns, exists: true, links, addresses: [], routes: [], sysctls: {}, nftTables: [] };
}
