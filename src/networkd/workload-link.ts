/**
 * The kernel side of attaching a workload: a veth whose NR end `wl-<hash6>` is a port of the
 * NR's br0 and whose other end, named as the workload asked (e.g. eth0), is created directly in
 * the workload's namespace with its address, MTU and default route via the NR's gateway.
 *
 * Everything goes over rtnetlink (src/nr/kernel Rtnl), with each socket opened inside its
 * namespace by path (/run/netns/NAME and /proc/PID/ns/net alike); no process is spawned. An attach
 * reads both namespaces, works out what differs (`planWorkloadLink`, pure) and changes only that,
 * so re-attaching an attached workload changes nothing and reports so — what reconcile relies on.
 *
 * `KernelWorkloadLinks` is what networkd keeps: it remembers what it read in each namespace for as
 * long as the kernel announces no change there (src/nr/namespace-watch.ts), so a steady re-check
 * costs one netlink round trip per namespace instead of dumps. Its watch sockets hold their
 * namespaces alive, so networkd tells it which namespaces are still in use (`retain`).
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { KernelError, Rtnl, type LinkState } from '../nr/kernel/index.js';
import { NamespaceWatches, alwaysDump, type NamespaceState, type StateReader } from '../nr/namespace-watch.js';
import { NR_BRIDGE } from '../nr/names.js';
import { NetworkdError, conflict, invalid } from './errors.js';

const WORKLOAD_LINK = /^wl-[0-9a-f]{6}$/;
const DEFAULT_ROUTE = '0.0.0.0/0';

export interface WorkloadLinkSpec {
  /** Path of the NR namespace (/run/netns/<P>n-<netId>). */
  readonly nrNetns: string;
  readonly link: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ip: string;
  readonly gateway: string;
  readonly mtu: number;
}

/** One change that brings a workload's link to its spec, in the order they must be made. */
export type WorkloadLinkStep =
  /** Our NR end exists but the workload has no `ifname` (its peer was renamed or moved away). */
  | { readonly kind: 'delete-stale-link' }
  | { readonly kind: 'create-veth' }
  | { readonly kind: 'enslave-to-bridge' }
  | { readonly kind: 'set-nr-end-mtu' }
  | { readonly kind: 'set-nr-end-up' }
  | { readonly kind: 'delete-address'; readonly cidr: string }
  | { readonly kind: 'add-address' }
  | { readonly kind: 'set-workload-end-mtu-up' }
  | { readonly kind: 'replace-default-route' };

/** `wl-` + the first 6 hex digits of SHA-256(workload id): the NR end of its veth. */
export function workloadLinkName(workload: string): string {
  return `wl-${createHash('sha256').update(workload, 'utf8').digest('hex').slice(0, 6)}`;
}

/** Whether `path` is a network namespace we can enter (a missing one is the caller's 400). */
export function checkNetnsExists(path: string, field = 'netns'): void {
  if (!existsSync(path)) throw invalid(field, `${path} does not exist`);
  try {
    statSync(path);
  } catch {
    throw invalid(field, `${path} cannot be read`);
  }
}

/**
 * What to change so that the workload's link matches `spec`, given what the NR and the workload
 * namespaces hold now (empty: nothing). A link named `ifname` in the workload namespace that is
 * not our veth's peer is a 409 naming `ifname`.
 */
export function planWorkloadLink(spec: WorkloadLinkSpec, nr: NamespaceState, workload: NamespaceState): WorkloadLinkStep[] {
  const steps: WorkloadLinkStep[] = [];
  let nrEnd = nr.links.find((l) => l.name === spec.link) ?? null;
  let workloadEnd = workload.links.find((l) => l.name === spec.ifname) ?? null;
  if (workloadEnd !== null && (nrEnd === null || !arePeers(nrEnd, workloadEnd))) {
    throw conflict('ifname', `${spec.ifname} already exists in ${spec.netns}`);
  }
  if (nrEnd !== null && workloadEnd === null) {
    steps.push({ kind: 'delete-stale-link' });
    nrEnd = null;
  }
  const bridge = nr.links.find((l) => l.name === NR_BRIDGE) ?? null;
  if (nrEnd === null) {
    steps.push({ kind: 'create-veth' });
    // What the kernel makes: both ends down with the MTU asked for, no master, no address.
    nrEnd = { ...FRESH_END, name: spec.link, mtu: spec.mtu };
    workloadEnd = { ...FRESH_END, name: spec.ifname, mtu: spec.mtu };
  }
  if (bridge === null || nrEnd.master !== bridge.index) steps.push({ kind: 'enslave-to-bridge' });
  if (nrEnd.mtu !== spec.mtu) steps.push({ kind: 'set-nr-end-mtu' });
  if (!nrEnd.up) steps.push({ kind: 'set-nr-end-up' });
  const fresh = steps.some((s) => s.kind === 'create-veth');
  const wanted = `${spec.ip}/24`;
  const current = fresh ? [] : workload.addresses.filter((a) => a.family === 4 && a.link === spec.ifname).map((a) => a.cidr);
  for (const other of current) if (other !== wanted) steps.push({ kind: 'delete-address', cidr: other });
  if (!current.includes(wanted)) steps.push({ kind: 'add-address' });
  if (workloadEnd!.mtu !== spec.mtu || !workloadEnd!.up) steps.push({ kind: 'set-workload-end-mtu-up' });
  const routed = !fresh && workload.routes.some((r) => r.destination === DEFAULT_ROUTE && r.gateway === spec.gateway && r.dev === spec.ifname);
  if (!routed) steps.push({ kind: 'replace-default-route' });
  return steps;
}

const FRESH_END: LinkState = { index: 0, name: '', kind: 'veth', up: false, mtu: 0, master: null, link: null, linkNetnsId: null, mac: null };

/**
 * Whether two links are the two ends of one veth: each names the other as its peer. The kernel
 * leaves IFLA_LINK out when the peer's index equals the link's own (indexes are per namespace).
 */
function arePeers(nrEnd: LinkState, workloadEnd: LinkState): boolean {
  if (nrEnd.kind !== 'veth' || workloadEnd.kind !== 'veth') return false;
  return (nrEnd.link ?? nrEnd.index) === workloadEnd.index && (workloadEnd.link ?? workloadEnd.index) === nrEnd.index;
}

/** The Rtnl sockets of one operation, one per namespace, opened on first use and all closed by close(). */
class Sockets {
  readonly #open = new Map<string, Rtnl>();

  get(path: string): Rtnl {
    let rtnl = this.#open.get(path);
    if (!rtnl) {
      rtnl = Rtnl.open(path);
      this.#open.set(path, rtnl);
    }
    return rtnl;
  }

  close(): void {
    for (const rtnl of this.#open.values()) rtnl.close();
    this.#open.clear();
  }
}

/** A kernel failure as networkd's EKERNEL: what failed, and the kernel layer's operation, object, namespace and errno. */
function kernelFailure(what: string, error: unknown): NetworkdError {
  if (error instanceof NetworkdError) return error;
  const detail = error instanceof KernelError ? error.message : `${error instanceof Error ? error.name : typeof error}`;
  return new NetworkdError('EKERNEL', `${what}: ${detail}`, {}, { cause: error });
}

async function readNamespace(reader: StateReader, sockets: Sockets, path: string, what: string, field?: string): Promise<NamespaceState> {
  try {
    return await reader.read(path, () => sockets.get(path));
  } catch (error) {
    // Only the workload's namespace is the caller's input: a path that is no namespace is a 400.
    if (field !== undefined && error instanceof KernelError && error.code === 'EINVAL' && error.operation === 'open rtnetlink socket') {
      throw invalid(field, `${path} is not a network namespace`);
    }
    throw kernelFailure(what, error);
  }
}

async function step(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    throw kernelFailure(what, error);
  }
}

async function applyWorkloadLinkStep(spec: WorkloadLinkSpec, s: WorkloadLinkStep, sockets: Sockets): Promise<void> {
  const nr = (): Rtnl => sockets.get(spec.nrNetns);
  const workload = (): Rtnl => sockets.get(spec.netns);
  switch (s.kind) {
    case 'delete-stale-link':
      return step(`remove ${spec.link} (its peer is no longer ${spec.ifname} in ${spec.netns})`, () => nr().deleteLink(spec.link));
    case 'create-veth':
      return step(`create veth ${spec.link}`, () => nr().createVeth(spec.link, spec.ifname, spec.netns, { mtu: spec.mtu }));
    case 'enslave-to-bridge':
      return step(`attach ${spec.link} to ${NR_BRIDGE}`, () => nr().setMaster(spec.link, NR_BRIDGE));
    case 'set-nr-end-mtu':
      return step(`set the MTU of ${spec.link}`, () => nr().setMtu(spec.link, spec.mtu));
    case 'set-nr-end-up':
      return step(`bring ${spec.link} up`, () => nr().setUp(spec.link));
    case 'delete-address':
      return step(`remove old address ${s.cidr}`, () => workload().deleteAddress(spec.ifname, s.cidr));
    case 'add-address':
      return step(`address ${spec.ifname}`, () => workload().addAddress(spec.ifname, `${spec.ip}/24`));
    case 'set-workload-end-mtu-up':
      return step(`bring ${spec.ifname} up`, async () => {
        await workload().setMtu(spec.ifname, spec.mtu);
        await workload().setUp(spec.ifname);
      });
    case 'replace-default-route':
      return step('default route', () => workload().replaceRoute({ destination: 'default', gateway: spec.gateway, dev: spec.ifname }));
  }
}

async function attachWith(reader: StateReader, spec: WorkloadLinkSpec): Promise<boolean> {
  checkNetnsExists(spec.netns);
  const sockets = new Sockets();
  try {
    const nr = await readNamespace(reader, sockets, spec.nrNetns, `read the NR ${spec.nrNetns}`);
    const workload = await readNamespace(reader, sockets, spec.netns, `read ${spec.netns}`, 'netns');
    const steps = planWorkloadLink(spec, nr, workload);
    for (const s of steps) await applyWorkloadLinkStep(spec, s, sockets);
    return steps.length > 0;
  } finally {
    sockets.close();
  }
}

async function listWith(reader: StateReader, nrNetns: string): Promise<string[]> {
  if (!existsSync(nrNetns)) return []; // no NR yet (its apply failed): nothing of ours in it
  const sockets = new Sockets();
  try {
    const state = await readNamespace(reader, sockets, nrNetns, 'list links of the NR');
    return state.links.map((l) => l.name).filter((name) => WORKLOAD_LINK.test(name));
  } finally {
    sockets.close();
  }
}

/** Names of the workload veths (`wl-*`) in an NR. */
export function listWorkloadLinks(nrNetns: string): Promise<string[]> {
  return listWith(alwaysDump, nrNetns);
}

/**
 * Creates (or confirms) the workload's veth and its configuration. Resolves true when something
 * was changed, false when everything already was as asked. A link named `ifname` in the workload
 * namespace that is not our veth's peer is a 409 naming `ifname`, and nothing is changed.
 */
export function attachWorkloadLink(spec: WorkloadLinkSpec): Promise<boolean> {
  return attachWith(alwaysDump, spec);
}

/** Removes the veth (its workload end goes with it). Missing is fine. */
export async function detachWorkloadLink(nrNetns: string, link: string): Promise<void> {
  if (!existsSync(nrNetns)) return;
  const sockets = new Sockets();
  try {
    await step(`remove ${link}`, () => sockets.get(nrNetns).deleteLink(link));
  } finally {
    sockets.close();
  }
}

/**
 * The same operations, remembering what was read in each namespace while the kernel reports no
 * change there: a re-check of an unchanged workload reads nothing but one answer per namespace.
 * One watch socket per namespace read (NRs and workloads) stays open until `retain` drops the
 * namespace or `close`.
 */
export class KernelWorkloadLinks {
  readonly #watches = new NamespaceWatches();
  readonly #watched = new Set<string>();

  attach(spec: WorkloadLinkSpec): Promise<boolean> {
    this.#watched.add(spec.nrNetns).add(spec.netns);
    return attachWith(this.#watches, spec);
  }

  detach(nrNetns: string, link: string): Promise<void> {
    return detachWorkloadLink(nrNetns, link);
  }

  list(nrNetns: string): Promise<string[]> {
    this.#watched.add(nrNetns);
    return listWith(this.#watches, nrNetns);
  }

  /** Stops watching every namespace but these (and those gone from their path): they are no longer ours to check. */
  retain(paths: Iterable<string>): void {
    const keep = new Set(paths);
    for (const path of this.#watched) {
      if (keep.has(path)) continue;
      this.#watches.forget(path);
      this.#watched.delete(path);
    }
    this.#watches.prune();
  }

  close(): void {
    this.#watches.close();
    this.#watched.clear();
  }
}
