/**
 * Reads what exists into the shapes diff compares with a plan: per namespace its links,
 * IPv4 addresses, non-kernel main-table routes, the sysctls and nft tables asked about, and the
 * WireGuard device's status from the backend. Reads only; never changes anything.
 *
 * Two readers decide what actually reaches the kernel: a TableReader for nft tables (NftCache:
 * skip reads while the namespace's nftables generation is unchanged) and a StateReader for links,
 * addresses and routes (NamespaceWatches: skip dumps while no rtnetlink notification arrived).
 * By default both read everything, every time.
 */
import { getSysctl, readTable, type LinkState } from './kernel/index.js';
import { alwaysDump, type StateReader } from './namespace-watch.js';
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
  const base = {
    netns: plan.netns,
    sysctlKeys: plan.sysctls.map((s) => s.key),
    tables: plan.nftTables.map((t) => ({ family: t.family, name: t.name })),
  };
  const slice =
    !plan.create &&
    !plan.ownsRoutes &&
    plan.addresses.length === 0 &&
    plan.routes.length === 0 &&
    plan.netns.kind === 'named';
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

export async function inspectNamespace(
  session: KernelSession,
  query: NamespaceQuery,
  tables: TableReader = alwaysRead,
  states: StateReader = alwaysDump,
): Promise<ObservedNamespace> {
  const { netns } = query;
  if (!session.exists(netns))
    return { netns, exists: false, links: [], addresses: [], routes: [], sysctls: {}, nftTables: [] };
  // Without a watch, a dump of a namespace holding every NR's port costs more than a few lookups.
  if (query.onlyLinks && states === alwaysDump) return inspectLinks(session, query, query.onlyLinks);
  const path = session.path(netns);
  const [state, nftTables] = await Promise.all([
    states.read(path, () => session.rtnl(netns)),
    query.onlyLinks ? [] : readTables(session, query, tables),
  ]);
  if (query.onlyLinks)
    return {
      netns,
      exists: true,
      links: sliceLinks(state.links, query.onlyLinks),
      addresses: [],
      routes: [],
      sysctls: {},
      nftTables: [],
    };
  const { links, addresses, routes } = state;
  const nameOf = new Map(links.map((l) => [l.index, l.name]));
  const sysctls: Record<string, string> = {};
  for (const key of query.sysctlKeys) {
    try {
      sysctls[key] = getSysctl(path, key);
    } catch {
      // Unreadable: absent, so diff sets it (and apply reports why if that fails too).
    }
  }
  return {
    netns,
    exists: true,
    links: links.map((l) => ({
      name: l.name,
      kind: l.kind ?? '',
      mtu: l.mtu,
      master: l.master === null ? null : (nameOf.get(l.master) ?? null),
      up: l.up,
    })),
    addresses: addresses.filter((a) => a.family === 4).map((a) => ({ link: a.link, cidr: a.cidr })),
    routes: routes
      .filter((r) => r.protocol !== 'kernel' && r.dev !== null)
      .map((r) => ({ destination: r.destination, gateway: r.gateway, link: r.dev as string })),
    sysctls,
    nftTables,
  };
}

async function readTables(session: KernelSession, query: NamespaceQuery, tables: TableReader): Promise<NftTable[]> {
  const out: NftTable[] = [];
  for (const { family, name } of query.tables) {
    const table = await tables.read(session, query.netns, family, name);
    if (table) out.push(table);
  }
  return out;
}

/** The wanted links out of a whole namespace's list, masters named as inspectLinks names them. */
function sliceLinks(links: readonly LinkState[], wanted: NonNullable<NamespaceQuery['onlyLinks']>) {
  const byName = new Map(links.map((l) => [l.name, l]));
  const out = [];
  for (const { name, master: plannedMaster } of wanted) {
    const link = byName.get(name);
    if (!link) continue;
    let master: string | null = null;
    if (link.master !== null) {
      const planned = plannedMaster === null ? undefined : byName.get(plannedMaster);
      master = planned && planned.index === link.master ? planned.name : `#${link.master}`;
    }
    out.push({ name: link.name, kind: link.kind ?? '', mtu: link.mtu, master, up: link.up });
  }
  return out;
}

async function inspectLinks(
  session: KernelSession,
  query: NamespaceQuery,
  wanted: NonNullable<NamespaceQuery['onlyLinks']>,
): Promise<ObservedNamespace> {
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
