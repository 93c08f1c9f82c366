/**
 * src/nr: network resources. `NetworkResources` is what networkd calls: it plans (plan.ts), reads
 * what exists (inspect.ts), diffs (diff.ts) and applies the difference (apply.ts) for the node's
 * ndmz and for each NR, removes NRs, and finds what it owns by name (names.ts) — only names with
 * its prefix, so it never touches anything else.
 *
 * Every public method is safe to repeat and to run after a crash at any point: applying twice
 * does nothing the second time (the report lists 0 steps).
 *
 * Between calls it remembers what it read, only as long as the kernel says nothing changed: nft
 * tables per nftables generation (NftCache), links/addresses/routes per namespace until an
 * rtnetlink notification (NamespaceWatches), and each WireGuard device's confirmed configuration
 * while its link is the same one (WgConfigMemory). So a reconcile that finds nothing to do costs
 * a few round trips per NR rather than dumps and UAPI reads. `close()` releases the watches.
 */
import { listNamespaces } from './kernel/index.js';
import { native } from '../native/binding.js';
import { type ApplyMemories, applySteps, type StepTiming } from './apply.js';
import { diffNdmz, diffNr } from './diff.js';
import { type NamespaceQuery, type TableReader, alwaysRead, inspectNamespace, queryOf } from './inspect.js';
import {
  HOST_NETNS,
  namedNetns,
  netnsKey,
  type DesiredNr,
  type ObservedNamespace,
  type ObservedNdmz,
  type ObservedNr,
} from './model.js';
import {
  TABLE_NAME,
  type NetId,
  type Prefix,
  hostTableName,
  ndmzNamespaceName,
  ndmzPortName,
  netIdOfNamespace,
  nrNamespaceName,
  parseNetId,
  parsePrefix,
  wgDeviceName,
} from './names.js';
import { IP_FORWARD, type NrContext, planNdmz, planNr } from './plan.js';
import { NftCache } from './nft-cache.js';
import { NamespaceWatches, type StateReader } from './namespace-watch.js';
import { WgConfigMemory } from './wireguard/memory.js';
import { KernelSession } from './session.js';
import type { Step } from './steps.js';
import type { WgBackend } from './wireguard/backend.js';

export { NrError, type NrErrorCode, type NrErrorContext } from './errors.js';
export { allocatePublicAddress, parsePublicAddress, type PublicAddress, PUBLIC_NETWORK } from './allocate-public.js';
export { planNdmz, planNr, type NrContext } from './plan.js';
export { diffNdmz, diffNr, diffPlans } from './diff.js';
export { describeStep, type Step, type StepKind } from './steps.js';
export type * from './model.js';
export type { NftTable, NftChain } from './nft.js';
export { UserspaceWgBackend, statusFromView } from './wireguard/userspace/backend.js';
export { minimalSetRequest } from './wireguard/userspace/set-request.js';
export { KernelWgBackend, KernelWgError, wireguardFamilyAvailable } from './wireguard/kernel/index.js';
export { readInterfaceMac } from './interface-mac.js';
export type { WgBackend, WgDesiredConfig, WgDeviceStatus, WgPeerConfig, WgPeerStatus } from './wireguard/backend.js';
export {
  KernelWorkloadLinks,
  attachWorkloadLink,
  checkNetnsExists,
  detachWorkloadLink,
  listWorkloadLinks,
  planWorkloadLink,
  workloadLinkName,
  type WorkloadLinkSpec,
} from './workload-link.js';
export {
  RUN_NETNS_DIR,
  netnsPathOf,
  parsePrefix,
  parseNetId,
  netIdOfNamespace,
  netIdOfWgDevice,
  isOwnedNamespace,
  nrNamespaceName,
  ndmzNamespaceName,
  wgDeviceName,
  type Prefix,
  type NetId,
} from './names.js';

export interface NetworkResourcesOptions {
  /** networkd's --prefix: 0–8 of [a-z0-9] ("" in production). */
  readonly prefix: string;
  readonly wg: WgBackend;
  /**
   * The node's namespace (the "host" of docs/network-resources.md) as a path; null (default): the
   * namespace this process runs in. Tests give a simulated node's namespace here.
   */
  readonly hostNetns?: string | null;
}

export interface ApplyReport {
  /** The steps carried out, in order, with their durations (empty: nothing differed). */
  readonly steps: readonly StepTiming[];
  readonly inspectMs: number;
  readonly applyMs: number;
  readonly totalMs: number;
}

/** planNr's context without the prefix, which NetworkResources owns. */
export type NrApplyContext = Omit<NrContext, 'prefix'>;

export class NetworkResources {
  readonly prefix: Prefix;
  readonly wg: WgBackend;
  readonly hostNetns: string | null;
  readonly #tables: NftCache;
  readonly #watches: NamespaceWatches;
  readonly #wgConfigs: WgConfigMemory;

  constructor(options: NetworkResourcesOptions) {
    this.prefix = parsePrefix(options.prefix);
    this.wg = options.wg;
    this.hostNetns = options.hostNetns ?? null;
    this.#watches = new NamespaceWatches();
    this.#tables = new NftCache((path) => this.#watches.generation(path));
    this.#wgConfigs = new WgConfigMemory();
  }

  /** Releases what is kept between calls (the namespace watches' sockets). Safe to call twice. */
  close(): void {
    this.#watches.close();
  }

  get #memories(): ApplyMemories {
    return { tables: this.#tables, watches: this.#watches };
  }

  /** Builds or repairs the node's ndmz (and the host side: veth end, nft table, forwarding). */
  async ensureNdmz(): Promise<ApplyReport> {
    const started = performance.now();
    const desired = planNdmz(this.prefix);
    const session = new KernelSession(this.hostNetns);
    // Once per reconcile: let go of namespaces deleted behind our back.
    this.#watches.prune();
    try {
      const observed: ObservedNdmz = {
        namespaces: await inspectAll(session, desired.namespaces.map(queryOf), this.#tables, this.#watches),
      };
      const inspected = performance.now();
      const steps = diffNdmz(desired, observed);
      const timings = await applySteps(steps, session, this.wg, this.#memories);
      return report(started, inspected, timings);
    } finally {
      session.close();
    }
  }

  /** Makes the NR of `resource` exactly as planned (creating ndmz first if it is missing). */
  async applyNr(resource: Parameters<typeof planNr>[0], ctx: NrApplyContext): Promise<ApplyReport> {
    const started = performance.now();
    const desired = planNr(resource, { ...ctx, prefix: this.prefix });
    let ndmzTimings: readonly StepTiming[] = [];
    const session = new KernelSession(this.hostNetns);
    try {
      if (!session.exists(namedNetns(ndmzNamespaceName(this.prefix)))) ndmzTimings = (await this.ensureNdmz()).steps;
      const { observed, wgLink, wgRead } = await this.#observe(session, desired);
      const inspected = performance.now();
      const steps = diffNr(desired, observed);
      const timings = await applySteps(steps, session, this.wg, this.#memories);
      // The device now holds the desired configuration: read back just now or set by this apply.
      // Not when the device was (re)made here: its link is not the one inspection saw.
      const { name, config } = desired.wireguard;
      if (wgRead !== null && wgLink !== null && !steps.some((s) => s.kind === 'ensure-wg-device')) {
        this.#wgConfigs.remember(name, wgLink, config, wgRead);
      } else if (steps.some((s) => s.kind === 'configure-wg')) {
        // Made and configured just now: its link is the one to tie the memory to.
        const nrPlan = desired.namespaces.find((n) => n.links.some((l) => l.name === name));
        const index = nrPlan ? linkIndex(session.path(nrPlan.netns), name) : 0;
        if (index > 0) this.#wgConfigs.remember(name, index, config);
      }
      return report(started, inspected, [...ndmzTimings, ...timings]);
    } finally {
      session.close();
    }
  }

  /**
   * Removes the NR: its WireGuard device (and UAPI socket) from the backend, and at the same time
   * its port in ndmz and its namespace, which takes its other links with it. Safe when already gone.
   */
  async removeNr(netIdInput: string): Promise<ApplyReport> {
    const netId = parseNetId(netIdInput);
    return this.#removeNr(netId, new Set(await this.wg.listDevices()));
  }

  /** `withNdmz`: ndmz is deleted right after (teardownAll), taking every port with it at once. */
  async #removeNr(netId: NetId, devices: ReadonlySet<string>, withNdmz = false): Promise<ApplyReport> {
    const started = performance.now();
    const nr = namedNetns(nrNamespaceName(this.prefix, netId));
    const session = new KernelSession(this.hostNetns);
    try {
      // The namespace goes first: its links (and the ndmz ends of its veths) are then the
      // kernel's to delete, all in one batch when the namespace dies, where deleting each link
      // costs an RCU barrier of its own. A userspace device comes after, so that wgd sees its
      // namespace deleted and leaves the TUN link to that batch too. A kernel device goes before:
      // its UDP port is freed only when its link is deleted, and a port held until the kernel
      // gets round to the namespace would refuse the same network applied again meanwhile.
      const device: Step[] = devices.has(wgDeviceName(netId))
        ? [{ kind: 'remove-wg-device', name: wgDeviceName(netId) }]
        : [];
      const deviceFirst = this.wg.kind === 'kernel';
      const first: Step[] = [
        ...(deviceFirst ? device : []),
        ...(session.exists(nr) ? [{ kind: 'delete-namespace', netns: nr } as const] : []),
      ];
      const rest: Step[] = deviceFirst ? [] : [...device];
      // The NR's port in ndmz is deleted explicitly: the namespace dies only when the kernel gets
      // round to it (asynchronously, later under load), and the caller is told the NR is gone —
      // its names free for reuse. Deleting one end of the veth deletes both at once.
      const ndmz = namedNetns(ndmzNamespaceName(this.prefix));
      if (!withNdmz && session.exists(ndmz) && linkIndex(session.path(ndmz), ndmzPortName(netId)) > 0) {
        rest.push({ kind: 'delete-link', netns: ndmz, name: ndmzPortName(netId) });
      }
      const inspected = performance.now();
      this.#wgConfigs.forget(wgDeviceName(netId));
      const firstTimings = await applySteps(first, session, this.wg, this.#memories);
      // The device (a wgd round trip) and the port are independent.
      const done = await Promise.all(rest.map((step) => applySteps([step], session, this.wg, this.#memories)));
      return report(started, inspected, [...firstTimings, ...done.flat()]);
    } finally {
      session.close();
    }
  }

  /** The netIds of the NR namespaces of this prefix, sorted. */
  listNrs(): NetId[] {
    return listNamespaces()
      .map((name) => netIdOfNamespace(this.prefix, name))
      .filter((id): id is NetId => id !== null);
  }

  /** What the NR holds now: its namespace, its port in ndmz, its WireGuard device. */
  async inspectNr(netIdInput: string): Promise<ObservedNr> {
    const netId = parseNetId(netIdInput);
    const session = new KernelSession(this.hostNetns);
    try {
      const queries: NamespaceQuery[] = [
        {
          netns: namedNetns(nrNamespaceName(this.prefix, netId)),
          sysctlKeys: [IP_FORWARD.key],
          tables: [{ family: 'inet', name: TABLE_NAME }],
        },
        { netns: namedNetns(ndmzNamespaceName(this.prefix)), sysctlKeys: [], tables: [] },
      ];
      const [nr, ndmz] = await inspectAll(session, queries, alwaysRead);
      const port = ndmzPortName(netId);
      const ndmzSlice = {
        ...ndmz!,
        links: ndmz!.links.filter((l) => l.name === port),
        addresses: ndmz!.addresses.filter((a) => a.link === port),
        routes: [],
      };
      return { netId, namespaces: [nr!, ndmzSlice], wireguard: await this.wg.status(wgDeviceName(netId)) };
    } finally {
      session.close();
    }
  }

  /** What ndmz and the host side hold now. */
  async inspectNdmz(): Promise<ObservedNdmz> {
    const session = new KernelSession(this.hostNetns);
    try {
      return { namespaces: await inspectAll(session, planNdmz(this.prefix).namespaces.map(queryOf), alwaysRead) };
    } finally {
      session.close();
    }
  }

  /**
   * Removes everything with this prefix: every NR (device, namespace), ndmz (with the host's veth
   * end) and the host's nft table. The host's ip_forward is left as it is (other software may rely
   * on it). For tests and the demo; networkd removes single NRs. The report lists the steps, timed.
   */
  async teardownAll(): Promise<ApplyReport> {
    const started = performance.now();
    const devices = new Set(await this.wg.listDevices());
    const nrs = this.listNrs();
    const inspected = performance.now();
    const session = new KernelSession(this.hostNetns);
    try {
      const timings: StepTiming[] = [];
      if (this.wg.kind === 'kernel') {
        // A kernel device is deleted before its namespace (#removeNr says why): NR by NR.
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(TEARDOWN_IN_FLIGHT, nrs.length) }, async () => {
            while (next < nrs.length) timings.push(...(await this.#removeNr(nrs[next++]!, devices, true)).steps);
          }),
        );
      } else {
        timings.push(...(await this.#removeUserspaceNrs(session, nrs, devices)));
      }
      const ndmz = namedNetns(ndmzNamespaceName(this.prefix));
      const steps: Step[] = [];
      if (session.exists(ndmz)) steps.push({ kind: 'delete-namespace', netns: ndmz });
      steps.push({ kind: 'delete-nft-table', netns: HOST_NETNS, family: 'inet', name: hostTableName(this.prefix) });
      timings.push(...(await applySteps(steps, session, this.wg, this.#memories)));
      return report(started, inspected, timings);
    } finally {
      session.close();
      this.#watches.close();
    }
  }

  /**
   * Every namespace first (an unmount each), then every device at once. The namespaces die when
   * wgd lets go of their TUNs, which it does for the devices deleted together in one go
   * (src/wg/tun-release.ts): the kernel then destroys them, links and all, in one cleanup run,
   * as it does for `ip netns del` of namespaces nothing holds. NR by NR, each namespace had a
   * cleanup run of its own, which held the RTNL lock while wgd waited for it to close the next
   * device (2.6 s for 100 NRs, against 0.3 s of kernel work).
   */
  async #removeUserspaceNrs(
    session: KernelSession,
    nrs: readonly NetId[],
    devices: ReadonlySet<string>,
  ): Promise<StepTiming[]> {
    const namespaces: Step[] = nrs
      .map((netId) => namedNetns(nrNamespaceName(this.prefix, netId)))
      .filter((netns) => session.exists(netns))
      .map((netns) => ({ kind: 'delete-namespace', netns }));
    const timings = await applySteps(namespaces, session, this.wg, this.#memories);
    const names = nrs.map(wgDeviceName).filter((name) => devices.has(name));
    for (const name of names) this.#wgConfigs.forget(name);
    if (names.length > 0) timings.push(...(await applySteps([{ kind: 'remove-wg-devices', names }], session, this.wg)));
    return timings;
  }

  /**
   * What the NR holds now, as diff needs it. The WireGuard configuration comes from memory when
   * the device's link is the one whose configuration was last confirmed; otherwise it is read
   * (`wgRead`: when, so that the memory can date it).
   */
  async #observe(
    session: KernelSession,
    desired: DesiredNr,
  ): Promise<{ observed: ObservedNr; wgLink: number | null; wgRead: number | null }> {
    const namespaces = await inspectAll(session, desired.namespaces.map(queryOf), this.#tables, this.#watches);
    const { name, config } = desired.wireguard;
    const nrPlan = desired.namespaces.find((n) => n.links.some((l) => l.name === name));
    const wgLink = nrPlan ? this.#watches.rememberedIndex(session.path(nrPlan.netns), name) : null;
    const recalled = wgLink === null ? null : this.#wgConfigs.recall(name, wgLink, config);
    if (recalled) return { observed: { netId: desired.netId, namespaces, wireguard: recalled }, wgLink, wgRead: null };
    const nrObserved = nrPlan ? namespaces.find((n) => netnsKey(n.netns) === netnsKey(nrPlan.netns)) : undefined;
    if (nrObserved && !nrObserved.links.some((l) => l.name === name)) {
      // No link, so the device is made (or re-made) and configured by this apply whatever the
      // backend holds: reading it first would only cost a round trip (and, for a device wgd does
      // not know, a list of every device).
      return { observed: { netId: desired.netId, namespaces, wireguard: null }, wgLink: null, wgRead: null };
    }
    const wgRead = performance.now();
    const wireguard = await this.wg.status(name);
    return {
      observed: { netId: desired.netId, namespaces, wireguard },
      wgLink: wireguard === null ? null : wgLink,
      wgRead,
    };
  }
}

/** NRs removed at once by teardownAll: their kernel work overlaps, bounded so the load stays bounded. */
const TEARDOWN_IN_FLIGHT = 8;

/** The link's ifindex in the namespace, 0 when there is none (one ioctl, no dump). */
function linkIndex(netnsPath: string | null, name: string): number {
  return native().linkIndex(netnsPath, name);
}

/** Namespaces at once (each has its own socket; nft reads no longer spawn processes). */
async function inspectAll(
  session: KernelSession,
  queries: readonly NamespaceQuery[],
  tables: TableReader,
  states?: StateReader,
): Promise<ObservedNamespace[]> {
  return Promise.all(queries.map((query) => inspectNamespace(session, query, tables, states)));
}
function report(started: number, inspected: number, steps: readonly StepTiming[]): ApplyReport {
  const now = performance.now();
  return { steps, inspectMs: inspected - started, applyMs: now - inspected, totalMs: now - started };
}
