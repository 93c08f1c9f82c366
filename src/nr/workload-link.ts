/**
 * Workload links, as steps of nr's one engine: a veth whose NR end `wl-<hash6>` is a port of the
 * NR's bridge and whose other end, named as the workload asked (e.g. eth0), is created directly in
 * the workload's namespace with its address, MTU and default route via the NR's gateway.
 *
 * An attach reads both namespaces (over rtnetlink, each socket opened inside its namespace by
 * path: /run/netns/NAME and /proc/PID/ns/net alike; no process is spawned), plans what differs as
 * nr `Step`s (`planWorkloadLink`, pure) and carries them out with nr's `applySteps`, so
 * re-attaching an attached workload changes nothing and reports so — what reconcile relies on.
 *
 * `KernelWorkloadLinks` is what networkd keeps: it remembers what it read in each namespace for as
 * long as the kernel announces no change there (namespace-watch.ts), so a steady re-check costs
 * one netlink round trip per namespace instead of dumps. Its watch sockets hold their namespaces
 * alive, so networkd tells it which namespaces are still in use (`retain`).
 *
 * Errors are NrErrors: EINVAL naming `netns` (missing, or not a namespace), ECONFLICT naming
 * `ifname`, EREAD (a namespace could not be read) and ESTEP (a step failed, named).
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { applySteps } from './apply.js';
import { NrError, invalidInput } from './errors.js';
import { KernelError, type LinkState } from './kernel/index.js';
import { type NetnsRef, pathNetns } from './model.js';
import { NR_BRIDGE } from './names.js';
import { NamespaceWatches, alwaysDump, type NamespaceState, type StateReader } from './namespace-watch.js';
import { KernelSession } from './session.js';
import type { Step } from './steps.js';

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
  /**
   * The service addresses the workload holds besides `ip` ("a.b.c.d/32", netdef's services named
   * for it): added at attach and at every re-check, removed when the service moved or went away.
   */
  readonly serviceAddresses: readonly string[];
}

/** `wl-` + the first 6 hex digits of SHA-256(workload id): the NR end of its veth. */
export function workloadLinkName(workload: string): string {
  return `wl-${createHash('sha256').update(workload, 'utf8').digest('hex').slice(0, 6)}`;
}

/** Whether `path` exists to be entered (EINVAL naming `field` when not: the caller's input). */
export function checkNetnsExists(path: string, field = 'netns'): void {
  if (!existsSync(path)) throw invalidInput(field, `${path} does not exist`);
  try {
    statSync(path);
  } catch {
    throw invalidInput(field, `${path} cannot be read`);
  }
}

/**
 * The steps that make the workload's link match `spec`, given what the NR and the workload
 * namespaces hold now (empty: nothing to do), in the order they must be made. A link named
 * `ifname` in the workload namespace that is not our veth's peer is ECONFLICT naming `ifname`.
 */
export function planWorkloadLink(spec: WorkloadLinkSpec, nr: NamespaceState, workload: NamespaceState): Step[] {
  const nrNetns: NetnsRef = pathNetns(spec.nrNetns);
  const workloadNetns: NetnsRef = pathNetns(spec.netns);
  const steps: Step[] = [];
  let nrEnd = nr.links.find((l) => l.name === spec.link) ?? null;
  let workloadEnd = workload.links.find((l) => l.name === spec.ifname) ?? null;
  if (workloadEnd !== null && (nrEnd === null || !arePeers(nrEnd, workloadEnd))) {
    throw new NrError('ECONFLICT', `ifname: ${spec.ifname} already exists in ${spec.netns}`, {
      field: 'ifname',
      netns: spec.netns,
    });
  }
  if (nrEnd !== null && workloadEnd === null) {
    // Our NR end without its workload end (renamed or moved away): made anew below.
    steps.push({ kind: 'delete-link', netns: nrNetns, name: spec.link });
    nrEnd = null;
  }
  const fresh = nrEnd === null;
  if (nrEnd === null) {
    steps.push({
      kind: 'create-veth',
      netns: nrNetns,
      name: spec.link,
      peerNetns: workloadNetns,
      peer: spec.ifname,
      mtu: spec.mtu,
    });
    // What the kernel makes: both ends down with the MTU asked for, no master, no address.
    nrEnd = { ...FRESH_END, name: spec.link, mtu: spec.mtu };
    workloadEnd = { ...FRESH_END, name: spec.ifname, mtu: spec.mtu };
  }
  const bridge = nr.links.find((l) => l.name === NR_BRIDGE) ?? null;
  const port = {
    ...(nrEnd.mtu !== spec.mtu ? { mtu: spec.mtu } : {}),
    ...(bridge === null || nrEnd.master !== bridge.index ? { master: NR_BRIDGE } : {}),
    ...(nrEnd.up ? {} : { up: true }),
  };
  if (Object.keys(port).length > 0) steps.push({ kind: 'set-link', netns: nrNetns, name: spec.link, ...port });
  // Exactly these IPv4 addresses: its own first, then its services' (a moved service's goes).
  const wanted = [`${spec.ip}/24`, ...spec.serviceAddresses];
  const current = fresh
    ? []
    : workload.addresses.filter((a) => a.family === 4 && a.link === spec.ifname).map((a) => a.cidr);
  for (const other of current) {
    if (!wanted.includes(other))
      steps.push({ kind: 'remove-address', netns: workloadNetns, link: spec.ifname, cidr: other });
  }
  for (const cidr of wanted) {
    if (!current.includes(cidr)) steps.push({ kind: 'add-address', netns: workloadNetns, link: spec.ifname, cidr });
  }
  if (workloadEnd!.mtu !== spec.mtu || !workloadEnd!.up) {
    steps.push({ kind: 'set-link', netns: workloadNetns, name: spec.ifname, mtu: spec.mtu, up: true });
  }
  const routed =
    !fresh &&
    workload.routes.some((r) => r.destination === DEFAULT_ROUTE && r.gateway === spec.gateway && r.dev === spec.ifname);
  if (!routed) {
    const route = { destination: DEFAULT_ROUTE, gateway: spec.gateway, link: spec.ifname };
    steps.push({ kind: 'replace-route', netns: workloadNetns, route });
  }
  return steps;
}

const FRESH_END: LinkState = {
  index: 0,
  name: '',
  kind: 'veth',
  up: false,
  mtu: 0,
  master: null,
  link: null,
  linkNetnsId: null,
  mac: null,
};

/**
 * Whether two links are the two ends of one veth: each names the other as its peer. The kernel
 * leaves IFLA_LINK out when the peer's index equals the link's own (indexes are per namespace).
 */
function arePeers(nrEnd: LinkState, workloadEnd: LinkState): boolean {
  if (nrEnd.kind !== 'veth' || workloadEnd.kind !== 'veth') return false;
  return (nrEnd.link ?? nrEnd.index) === workloadEnd.index && (workloadEnd.link ?? workloadEnd.index) === nrEnd.index;
}

async function readNamespace(
  reader: StateReader,
  session: KernelSession,
  netns: NetnsRef,
  what: string,
  field?: string,
): Promise<NamespaceState> {
  const path = session.path(netns)!;
  try {
    return await reader.read(path, () => session.rtnl(netns));
  } catch (error) {
    // Only the workload's namespace is the caller's input: a path that is no namespace is EINVAL.
    if (
      field !== undefined &&
      error instanceof KernelError &&
      error.code === 'EINVAL' &&
      error.operation === 'open rtnetlink socket'
    ) {
      throw invalidInput(field, `${path} is not a network namespace`);
    }
    const detail =
      error instanceof KernelError ? error.message : `${error instanceof Error ? error.name : typeof error}`;
    throw new NrError('EREAD', `${what}: ${detail}`, { netns: path }, { cause: error });
  }
}

async function attachWith(reader: StateReader, spec: WorkloadLinkSpec): Promise<boolean> {
  checkNetnsExists(spec.netns);
  const session = new KernelSession(null);
  try {
    const nr = await readNamespace(reader, session, pathNetns(spec.nrNetns), `read the NR ${spec.nrNetns}`);
    const workload = await readNamespace(reader, session, pathNetns(spec.netns), `read ${spec.netns}`, 'netns');
    const steps = planWorkloadLink(spec, nr, workload);
    await applySteps(steps, session, null);
    return steps.length > 0;
  } finally {
    session.close();
  }
}

async function listWith(reader: StateReader, nrNetns: string): Promise<string[]> {
  if (!existsSync(nrNetns)) return []; // no NR yet (its apply failed): nothing of ours in it
  const session = new KernelSession(null);
  try {
    const state = await readNamespace(reader, session, pathNetns(nrNetns), 'list links of the NR');
    return state.links.map((l) => l.name).filter((name) => WORKLOAD_LINK.test(name));
  } finally {
    session.close();
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
  const session = new KernelSession(null);
  try {
    await applySteps([{ kind: 'delete-link', netns: pathNetns(nrNetns), name: link }], session, null);
  } finally {
    session.close();
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
