/**
 * Pure: desired state against observed state → the ordered steps that make the kernel match.
 *
 * Order matters and is fixed: namespaces, then links (created, then their MTU/master/up), then
 * addresses (stale ones removed before new ones are added), routes (planned ones replaced, then
 * stale ones removed), sysctls, nft tables, and last the WireGuard configuration. Only what
 * differs yields a step, so diff(desired, observed-after-apply) is empty, and only objects that
 * are ours are removed: addresses on planned links, routes in namespaces the plan owns, peers of
 * the NR's own device. Links the plan does not name (workload veths) are never touched.
 */
import type {
  DesiredNdmz,
  DesiredNr,
  LinkPlan,
  NamespacePlan,
  NetnsRef,
  ObservedLink,
  ObservedNamespace,
  ObservedNdmz,
  ObservedNr,
  RoutePlan,
  WgDevicePlan,
} from './model.js';
import { netnsKey } from './model.js';
import type { NftTable } from './nft.js';
import type { Step } from './steps.js';
import type { WgDesiredConfig, WgDeviceStatus } from './wg-types.js';

/** Structural equality of JSON-like values (object key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((v, i) => deepEqual(v, other[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export function tablesEqual(a: NftTable, b: NftTable): boolean {
  return deepEqual(a, b);
}

const EMPTY_NAMESPACE = (plan: NamespacePlan): ObservedNamespace => ({
  netns: plan.netns,
  exists: false,
  links: [],
  addresses: [],
  routes: [],
  sysctls: {},
  nftTables: [],
});

/** The kinds of link that satisfy a plan's creation kind. */
function kindMatches(plan: LinkPlan, observed: ObservedLink): boolean {
  switch (plan.create.kind) {
    case 'veth-pair':
    case 'veth-peer':
      return observed.kind === 'veth';
    case 'bridge':
      return observed.kind === 'bridge';
    case 'wireguard':
      return observed.kind === 'tun' || observed.kind === 'wireguard';
    case 'loopback':
      return true;
  }
}

function sameRoute(a: RoutePlan, b: RoutePlan): boolean {
  return a.destination === b.destination && a.gateway === b.gateway && a.link === b.link;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/** True when the device's configuration is not exactly the desired one. */
export function wgDiffers(desired: WgDesiredConfig, status: WgDeviceStatus): boolean {
  if (status.publicKey !== desired.publicKey || status.listenPort !== desired.listenPort) return true;
  if (status.peers.length !== desired.peers.length) return true;
  const byKey = new Map(status.peers.map((p) => [p.publicKey, p]));
  for (const want of desired.peers) {
    const have = byKey.get(want.publicKey);
    if (!have) return true;
    if (have.persistentKeepalive !== want.persistentKeepalive) return true;
    if (!sameSet(have.allowedIps, want.allowedIps)) return true;
    // A peer without a planned endpoint dials in: whatever it roamed from is its business.
    if (want.endpoint !== null && have.endpoint !== want.endpoint) return true;
  }
  return false;
}

interface LinkWork {
  plan: NamespacePlan;
  link: LinkPlan;
  /** What the link is (or will be right after its creation step). */
  current: { mtu: number | null; master: string | null; up: boolean };
}

/**
 * Steps for a set of namespace plans (which may reference each other through veth pairs) and,
 * for an NR, its WireGuard device.
 */
export function diffPlans(
  plans: readonly NamespacePlan[],
  observed: readonly ObservedNamespace[],
  wireguard?: { plan: WgDevicePlan; status: WgDeviceStatus | null },
): Step[] {
  const observedByKey = new Map(observed.map((o) => [netnsKey(o.netns), o]));
  const seen = (plan: NamespacePlan): ObservedNamespace => observedByKey.get(netnsKey(plan.netns)) ?? EMPTY_NAMESPACE(plan);
  const linkOf = (netnsName: string, name: string): ObservedLink | undefined => observedByKey.get(netnsName)?.links.find((l) => l.name === name);

  const namespaceSteps: Step[] = [];
  const deleteSteps: Step[] = [];
  const createSteps: Step[] = [];
  const setSteps: Step[] = [];
  const addressSteps: Step[] = [];
  const routeSteps: Step[] = [];
  const sysctlSteps: Step[] = [];
  const nftSteps: Step[] = [];
  const wgSteps: Step[] = [];

  for (const plan of plans) {
    if (plan.create && !seen(plan).exists) namespaceSteps.push({ kind: 'create-namespace', netns: plan.netns });
  }

  // Links: which exist as planned, which must be (re)made.
  const work: LinkWork[] = [];
  const fresh = new Set<string>(); // "netns/link" made by this diff
  const markFresh = (netnsName: string, link: string): void => void fresh.add(`${netnsName}/${link}`);
  const wgFresh = wireguard !== undefined && wireguard.status === null;
  for (const plan of plans) {
    const ns = seen(plan);
    const key = netnsKey(plan.netns);
    for (const link of plan.links) {
      const have = ns.links.find((l) => l.name === link.name);
      const usable = have !== undefined && kindMatches(link, have);
      if (have && !usable) deleteSteps.push({ kind: 'delete-link', netns: plan.netns, name: link.name });
      const c = link.create;
      if (c.kind === 'veth-pair') {
        const peer = linkOf(netnsKey(c.peerNetns), c.peer);
        const peerUsable = peer !== undefined && peer.kind === 'veth';
        if (!usable || !peerUsable) {
          // Half a pair is no pair: remove what is left and make both ends anew.
          if (usable) deleteSteps.push({ kind: 'delete-link', netns: plan.netns, name: link.name });
          if (peer) deleteSteps.push({ kind: 'delete-link', netns: c.peerNetns, name: c.peer });
          createSteps.push({ kind: 'create-veth', netns: plan.netns, name: link.name, peerNetns: c.peerNetns, peer: c.peer, mtu: link.mtu ?? 1500 });
          markFresh(key, link.name);
          markFresh(netnsKey(c.peerNetns), c.peer);
        }
      } else if (c.kind === 'bridge' && !usable) {
        createSteps.push({ kind: 'create-bridge', netns: plan.netns, name: link.name, mtu: link.mtu ?? 1500 });
        markFresh(key, link.name);
      } else if (c.kind === 'wireguard' && (!usable || wgFresh)) {
        if (usable && wgFresh) deleteSteps.push({ kind: 'delete-link', netns: plan.netns, name: link.name }); // a link no backend device owns
        createSteps.push({ kind: 'ensure-wg-device', netns: plan.netns, name: link.name, mtu: link.mtu ?? 1420 });
        markFresh(key, link.name);
      }
    }
  }
  for (const plan of plans) {
    const ns = seen(plan);
    const key = netnsKey(plan.netns);
    for (const link of plan.links) {
      const have = ns.links.find((l) => l.name === link.name);
      if (fresh.has(`${key}/${link.name}`) || !have || !kindMatches(link, have)) {
        // Made by this diff: a veth or bridge has its MTU from creation, nothing else yet.
        const createdMtu = link.create.kind === 'wireguard' ? link.mtu : link.mtu ?? null;
        work.push({ plan, link, current: { mtu: createdMtu, master: null, up: false } });
      } else {
        work.push({ plan, link, current: { mtu: have.mtu, master: have.master, up: have.up } });
      }
    }
  }
  // Bridges' own settings first, then their ports (a port's master must exist and be up-able).
  const bridgesFirst = [...work].sort((a, b) => Number(b.link.create.kind === 'bridge') - Number(a.link.create.kind === 'bridge'));
  for (const { plan, link, current } of bridgesFirst) {
    const change: { mtu?: number; master?: string | null; up?: boolean } = {};
    if (link.mtu !== null && current.mtu !== link.mtu) change.mtu = link.mtu;
    if (current.master !== link.master) change.master = link.master;
    if (current.up !== link.up) change.up = link.up;
    if (Object.keys(change).length > 0) setSteps.push({ kind: 'set-link', netns: plan.netns, name: link.name, ...change });
  }

  for (const plan of plans) {
    const ns = seen(plan);
    const key = netnsKey(plan.netns);
    // Addresses: exactly the planned ones on each planned link.
    for (const link of plan.links) {
      const isFresh = fresh.has(`${key}/${link.name}`);
      const want = plan.addresses.filter((a) => a.link === link.name).map((a) => a.cidr);
      const have = isFresh ? [] : ns.addresses.filter((a) => a.link === link.name).map((a) => a.cidr);
      if (link.create.kind === 'loopback') continue; // lo keeps 127.0.0.1/8
      for (const cidr of have) if (!want.includes(cidr)) addressSteps.push({ kind: 'remove-address', netns: plan.netns, link: link.name, cidr });
      for (const cidr of want) if (!have.includes(cidr)) addressSteps.push({ kind: 'add-address', netns: plan.netns, link: link.name, cidr });
    }
    // Routes: planned ones present and exact; in an owned namespace, nothing else.
    const observedRoutes = ns.routes;
    for (const route of plan.routes) {
      const have = observedRoutes.find((r) => r.destination === route.destination);
      if (!have || !sameRoute(have, route)) routeSteps.push({ kind: 'replace-route', netns: plan.netns, route });
    }
    if (plan.ownsRoutes) {
      for (const have of observedRoutes) {
        if (!plan.routes.some((r) => r.destination === have.destination)) routeSteps.push({ kind: 'remove-route', netns: plan.netns, route: have });
      }
    }
    for (const sysctl of plan.sysctls) {
      if (ns.sysctls[sysctl.key] !== sysctl.value) sysctlSteps.push({ kind: 'set-sysctl', netns: plan.netns, key: sysctl.key, value: sysctl.value });
    }
    for (const table of plan.nftTables) {
      const have = ns.nftTables.find((t) => t.family === table.family && t.name === table.name);
      if (!have || !tablesEqual(have, table)) nftSteps.push({ kind: 'replace-nft-table', netns: plan.netns, table });
    }
    if (plan.cutDeniedFlows && nftSteps.some((s) => s.kind === 'replace-nft-table' && s.netns === plan.netns)) {
      nftSteps.push({ kind: 'cut-denied-flows', netns: plan.netns, policy: plan.cutDeniedFlows });
    }
  }

  if (wireguard) {
    const { plan, status } = wireguard;
    if (status === null || wgDiffers(plan.config, status)) wgSteps.push({ kind: 'configure-wg', name: plan.name, config: plan.config });
  }

  const deletes = new Map(deleteSteps.map((s) => [`${netnsKey((s as { netns: NetnsRef }).netns)}/${(s as { name: string }).name}`, s]));
  return [...namespaceSteps, ...deletes.values(), ...createSteps, ...setSteps, ...addressSteps, ...routeSteps, ...sysctlSteps, ...nftSteps, ...wgSteps];
}

export function diffNdmz(desired: DesiredNdmz, observed: ObservedNdmz): Step[] {
  return diffPlans(desired.namespaces, observed.namespaces);
}

export function diffNr(desired: DesiredNr, observed: ObservedNr): Step[] {
  return diffPlans(desired.namespaces, observed.namespaces, { plan: desired.wireguard, status: observed.wireguard });
}
