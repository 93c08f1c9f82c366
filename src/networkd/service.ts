/**
 * The operations of networkd, independent of HTTP: apply and delete a network, attach and
 * detach workloads, list and inspect with live status, and reconcile. Every change follows the
 * same order: validate everything first (bad input changes nothing), write the store, then act
 * on the kernel; a crash in between is repaired by the next reconcile. Changes and reconcile
 * passes run one at a time (SerialQueue), in arrival order.
 */
import { type WorkloadLinkSpec, allocatePublicAddress, readInterfaceMac, workloadLinkName } from '../nr/index.js';
import {
  type NetworkDefinition,
  type NodeResource,
  type PrivateKey,
  UnsealError,
  netIdOf,
  openResourceKey,
  parseNetworkDefinition,
  pinningIssues,
  resourceFor,
  trustAfter,
  verifyDefinition,
} from '../netdef/index.js';
import type { DataPlane, NrStatus } from './data-plane.js';
import type { EndpointResolver } from './endpoint-resolver.js';
import { NetworkdError, asNetworkdError, conflict, invalid, notFound } from './errors.js';
import { type AttachRequest, type GcRequest, type NetworkName, parseWorkloadId } from './requests.js';
import { decideRevision } from './revision.js';
import { SerialQueue } from './serial-queue.js';
import { type Store, type StoredNetwork, type StoredWorkload, type StoredWorkloads, withForgotten } from './store.js';
import type {
  ApplyResult,
  AttachResult,
  DeleteResult,
  DetachResult,
  GcResult,
  NetworkView,
  ReconcileReport,
} from './views.js';
import { allocateWorkloadAddress } from './workload-address.js';
import { KernelWorkloadLinks } from './workload-link.js';
import {
  type NetnsIdentity,
  forbiddenMatch,
  nodeNamespaces,
  type ResolvedForbidden,
  resolveForbidden,
  readNetnsIdentity,
  sameHolder,
  sameNamespace,
  tryNetnsIdentity,
} from './workload-namespace.js';

/** The kernel side of workloads (workload-link.ts); replaceable so the wiring stays in one place. */
export interface WorkloadLinks {
  attach(spec: WorkloadLinkSpec): Promise<boolean>;
  detach(nrNetns: string, link: string): Promise<void>;
  list(nrNetns: string): Promise<string[]>;
  /** Told after every change of the workload set: the namespaces still in use (the rest may be let go). */
  retain?(netnsPaths: Iterable<string>): void;
}

export interface ServiceOptions {
  readonly store: Store;
  readonly plane: DataPlane;
  readonly resolver: EndpointResolver;
  readonly nodeId: string;
  readonly identity: PrivateKey;
  readonly workloadLinks?: WorkloadLinks;
  /** The pid of the wgd whose namespace is never a workload's (null: none, e.g. kernel WireGuard). */
  readonly wgdPid?: () => number | null;
  /** Called before every reconcile pass (the userspace backend makes sure wgd answers). */
  readonly beforeReconcile?: () => Promise<void>;
  readonly log?: (message: string) => void;
  /** Reads a workload interface's MAC for the attach answer (nr/interface-mac.ts; replaceable in tests). */
  readonly readMac?: (netns: string, ifname: string) => Promise<string | null>;
  /** Told every reconcile pass's report (metrics). */
  readonly onReconcile?: (report: ReconcileReport) => void;
  /** The admin keys this node trusts (read on every definition) and where a trust update goes. */
  readonly trust: TrustedKeys;
}

/** The node's trusted admin keys (src/common/trusted-keys.ts on a real node). */
export interface TrustedKeys {
  read(): Promise<readonly string[]>;
  write(keys: readonly string[]): Promise<void>;
}

export class NetworkService {
  readonly #store: Store;
  readonly #plane: DataPlane;
  readonly #resolver: EndpointResolver;
  readonly #nodeId: string;
  readonly #identity: PrivateKey;
  readonly #links: WorkloadLinks;
  readonly #beforeReconcile: () => Promise<void>;
  readonly #wgdPid: () => number | null;
  readonly #log: (message: string) => void;
  readonly #trust: TrustedKeys;
  readonly #readMac: (netns: string, ifname: string) => Promise<string | null>;
  readonly #onReconcile: (report: ReconcileReport) => void;
  readonly #queue = new SerialQueue();
  #reconcileQueued: Promise<ReconcileReport> | null = null;
  #lastReconcile: ReconcileReport | null = null;

  constructor(options: ServiceOptions) {
    this.#store = options.store;
    this.#plane = options.plane;
    this.#resolver = options.resolver;
    this.#nodeId = options.nodeId;
    this.#identity = options.identity;
    this.#links = options.workloadLinks ?? new KernelWorkloadLinks();
    this.#beforeReconcile = options.beforeReconcile ?? (async () => {});
    this.#wgdPid = options.wgdPid ?? (() => null);
    this.#log = options.log ?? (() => {});
    this.#trust = options.trust;
    this.#readMac = options.readMac ?? readInterfaceMac;
    this.#onReconcile = options.onReconcile ?? (() => {});
  }

  get lastReconcile(): ReconcileReport | null {
    return this.#lastReconcile;
  }

  // ---------------------------------------------------------------- networks

  /** PUT /v1/networks/{name}. */
  applyNetwork(name: NetworkName, body: unknown): Promise<ApplyResult> {
    const parsed = parseNetworkDefinition(body);
    if (!parsed.ok) {
      const first = parsed.errors[0];
      const more = parsed.errors.length > 1 ? ` (and ${parsed.errors.length - 1} more)` : '';
      throw new NetworkdError(
        'EINVAL',
        `invalid network definition: ${first?.path || '/'}: ${first?.message ?? 'invalid'}${more}`,
        { network: name, issues: parsed.errors },
      );
    }
    const definition = parsed.value;
    if (definition.name !== name)
      throw invalid('/name', `the definition is for network "${definition.name}", not "${name}" (the URL's name)`, {
        network: name,
      });
    return this.#queue.run(async () => {
      const started = performance.now();
      // In the queue: a trust update of an earlier definition counts for this one.
      const trusted = await this.#trust.read();
      const check = verifyDefinition(definition, trusted);
      if (!check.ok) throw invalid('/signature', `refused: ${check.reason}`, { network: name });
      const index = definition.resources.findIndex((r) => r.node === this.#nodeId);
      const own = definition.resources[index];
      if (own === undefined) {
        throw new NetworkdError(
          'ENOTMEMBER',
          `this node "${this.#nodeId}" is not a member of network "${name}" (no resource with node "${this.#nodeId}")`,
          { field: '/resources', network: name },
        );
      }
      try {
        openResourceKey(own, this.#identity); // proves the key opens before anything is stored
      } catch (error) {
        if (error instanceof UnsealError) {
          throw new NetworkdError('ENOTMEMBER', `/resources/${index}${error.path}: ${error.message}`, {
            field: `/resources/${index}${error.path}`,
            network: name,
          });
        }
        throw error;
      }
      const stored = this.#store.network(name);
      const decision = decideRevision(stored?.definition, definition);
      if (decision.kind === 'conflict') throw conflict('/revision', decision.reason, { network: name });
      if (decision.kind === 'apply' && stored !== undefined) {
        const pinned = pinningIssues(stored.definition, definition)[0];
        if (pinned !== undefined) throw invalid(pinned.path, pinned.message, { network: name });
      }
      let network: StoredNetwork;
      if (decision.kind === 'apply' || stored === undefined) {
        network = {
          name,
          netId: netIdOf(name),
          definition,
          publicAddress: stored?.publicAddress ?? allocatePublicAddress(this.#store.publicAddresses()),
          resolved: stored?.resolved ?? {},
        };
        await this.#store.putNetwork(network);
        this.#log(`network ${name}: stored revision ${definition.revision}`);
        if (definition.trust !== undefined) await this.#updateTrust(trusted, definition);
      } else {
        network = stored;
      }
      const steps = await this.#applyOne(network);
      const ms = Math.round((performance.now() - started) * 10) / 10;
      this.#log(`network ${name}: applied revision ${definition.revision} in ${steps} step(s), ${ms} ms`);
      this.scheduleReconcile();
      return { network: name, netId: network.netId, revision: definition.revision, applied: { steps, ms } };
    });
  }

  /** A verified definition's trust update: the node's trusted set changes for every later one. */
  async #updateTrust(trusted: readonly string[], definition: NetworkDefinition): Promise<void> {
    const next = trustAfter(trusted, definition);
    if (next.length === trusted.length && next.every((k, i) => k === trusted[i])) return;
    await this.#trust.write(next);
    this.#log(
      `trusted admin keys: ${next.length} (trust update of network ${definition.name} revision ${definition.revision})`,
    );
  }

  /** DELETE /v1/networks/{name}: state first, then workloads detached, then the NR removed. */
  deleteNetwork(name: NetworkName): Promise<DeleteResult> {
    return this.#queue.run(async () => {
      const stored = this.#store.network(name);
      if (!stored) throw notFound(`network "${name}" is not applied on this node`, { network: name });
      const workloads = Object.values(this.#store.workloads(name).workloads);
      await this.#store.removeNetwork(name);
      const nrNetns = this.#plane.nrNetnsPath(stored.netId);
      for (const workload of workloads) await this.#links.detach(nrNetns, workload.link);
      this.#retainWorkloadNamespaces();
      await this.#plane.removeNr(stored.netId);
      await this.#plane.removeUnwantedDevices(this.#wantedNetIds());
      this.#log(`network ${name}: deleted (${workloads.length} workload(s) detached)`);
      return { network: name, netId: stored.netId, deleted: true, workloadsDetached: workloads.length };
    });
  }

  async listNetworks(): Promise<NetworkView[]> {
    return Promise.all(this.#store.networks().map((n) => this.#describe(n)));
  }

  async getNetwork(name: NetworkName): Promise<NetworkView> {
    const stored = this.#store.network(name);
    if (!stored) throw notFound(`network "${name}" is not applied on this node`, { network: name });
    return this.#describe(stored);
  }

  // ---------------------------------------------------------------- workloads

  /**
   * POST /v1/networks/{name}/workloads. Idempotent by workload id. The namespace must be none of
   * the node's own (root, networkd's, wgd's, the ndmz, an NR) nor another workload's, compared by
   * identity, not path; a repeat whose path now names another namespace than the one recorded
   * (a reused PID) finds the old workload gone: it is released and the request attaches anew.
   */
  attachWorkload(name: NetworkName, request: AttachRequest): Promise<AttachResult> {
    return this.#queue.run(async () => {
      const network = this.#store.network(name);
      if (!network) throw notFound(`network "${name}" is not applied on this node`, { network: name });
      const resource = this.#resourceOf(network);
      let state = this.#store.workloads(name);
      const existing = state.workloads[request.workload];
      if (existing) {
        if (request.owner.kind === 'cni' || existing.owner.kind === 'cni') {
          // A runtime ADDs once per container and ifname (CNI spec); a second ADD is its bug, or a clash.
          throw conflict(
            'workload',
            `workload ${request.workload} is already attached (netns ${existing.netns}, ifname ${existing.ifname}, ${existing.ip}); DEL it first`,
            { network: name, workload: request.workload },
          );
        }
        for (const field of ['netns', 'ifname'] as const) {
          if (existing[field] !== request[field])
            throw conflict(
              field,
              `workload ${request.workload} is attached with ${field} ${existing[field]}; detach it first to change it`,
              { network: name, workload: request.workload },
            );
        }
        if (request.ip !== undefined && request.ip !== existing.ip)
          throw conflict(
            'ip',
            `workload ${request.workload} is attached with ip ${existing.ip}; detach it first to change it`,
            { network: name, workload: request.workload },
          );
        const identity = this.#checkWorkloadNamespace(request.netns, request.workload, {
          network: name,
          workload: request.workload,
        });
        if (existing.netnsIdentity === null || sameHolder(existing.netnsIdentity, identity)) {
          await this.#links.attach(this.#linkSpec(network, resource, existing));
          return await this.#attachResult(resource, existing);
        }
        state = await this.#release(
          network,
          state,
          existing,
          `its netns ${existing.netns} now names another namespace than the one it was attached in`,
        );
      }
      const identity = this.#checkWorkloadNamespace(request.netns, request.workload, {
        network: name,
        workload: request.workload,
      });
      const others = Object.values(state.workloads);
      const ip = allocateWorkloadAddress(resource.subnet, new Set(others.map((w) => w.ip)), request.ip);
      const link = workloadLinkName(request.workload);
      const clash = others.find((w) => w.link === link);
      if (clash)
        throw conflict(
          'workload',
          `its link name ${link} collides with workload ${clash.workload}'s; use another workload id`,
          { network: name, workload: request.workload },
        );
      const record: StoredWorkload = {
        workload: request.workload,
        netns: request.netns,
        ifname: request.ifname,
        ip,
        link,
        netnsIdentity: identity,
        owner: request.owner,
      };
      await this.#store.putWorkloads({ ...state, workloads: { ...state.workloads, [record.workload]: record } });
      try {
        await this.#links.attach(this.#linkSpec(network, resource, record));
      } catch (error) {
        // Refused by the kernel (e.g. ifname taken meanwhile): leave nothing behind, state included.
        await this.#links.detach(this.#plane.nrNetnsPath(network.netId), link).catch(() => undefined);
        await this.#store.putWorkloads(state);
        this.#retainWorkloadNamespaces();
        throw error;
      }
      this.#log(
        `network ${name}: workload ${record.workload} attached as ${ip} (${link} ↔ ${record.ifname} in ${record.netns})`,
      );
      return await this.#attachResult(resource, record);
    });
  }

  /** DELETE /v1/networks/{name}/workloads/{workload}: the address becomes free. */
  detachWorkload(name: NetworkName, workloadText: string): Promise<DetachResult> {
    const workload = parseWorkloadId(workloadText);
    return this.#queue.run(async () => {
      const network = this.#store.network(name);
      if (!network) throw notFound(`network "${name}" is not applied on this node`, { network: name });
      const state = this.#store.workloads(name);
      const record = state.workloads[workload];
      if (!record)
        throw notFound(`workload "${workload}" is not attached to network "${name}"`, { network: name, workload });
      const { [workload]: _removed, ...rest } = state.workloads;
      await this.#store.putWorkloads({ ...state, workloads: rest });
      await this.#links.detach(this.#plane.nrNetnsPath(network.netId), record.link);
      this.#retainWorkloadNamespaces();
      this.#log(`network ${name}: workload ${workload} detached, ${record.ip} free`);
      return { workload, ip: record.ip, detached: true };
    });
  }

  /**
   * POST /v1/networks/{name}/workloads/gc: releases every CNI-owned workload not in `keep` (the
   * runtime's CNI GC). Each release is done on its own: a failure is reported and the rest go on.
   */
  gcWorkloads(name: NetworkName, request: GcRequest): Promise<GcResult> {
    return this.#queue.run(async () => {
      const network = this.#store.network(name);
      if (!network) throw notFound(`network "${name}" is not applied on this node`, { network: name });
      const nrNetns = this.#plane.nrNetnsPath(network.netId);
      const released: string[] = [];
      const errors: { workload: string; message: string }[] = [];
      let kept = 0;
      for (const record of Object.values(this.#store.workloads(name).workloads)) {
        if (record.owner.kind !== 'cni') continue;
        if (request.keep.has(record.workload)) {
          kept++;
          continue;
        }
        try {
          const { [record.workload]: _removed, ...rest } = this.#store.workloads(name).workloads;
          await this.#store.putWorkloads({ ...this.#store.workloads(name), workloads: rest });
          await this.#links.detach(nrNetns, record.link);
          released.push(record.workload);
          this.#log(
            `network ${name}: CNI GC released workload ${record.workload} (container ${record.owner.containerId}), ${record.ip} free`,
          );
        } catch (error) {
          errors.push({ workload: record.workload, message: asNetworkdError(error).message });
        }
      }
      this.#retainWorkloadNamespaces();
      return { released, kept, errors };
    });
  }

  // ---------------------------------------------------------------- reconcile

  /** Queues a reconcile pass unless one is already waiting; resolves to its report. */
  scheduleReconcile(): Promise<ReconcileReport> {
    this.#reconcileQueued ??= this.#queue.run(async () => {
      this.#reconcileQueued = null;
      return this.#reconcile();
    });
    return this.#reconcileQueued;
  }

  /** Runs one reconcile pass now (after what is queued). */
  reconcile(): Promise<ReconcileReport> {
    return this.#queue.run(() => this.#reconcile());
  }

  async #reconcile(): Promise<ReconcileReport> {
    const started = performance.now();
    const errors: string[] = [];
    const forgotten: string[] = [];
    let steps = 0;
    let reattached = 0;
    await this.#beforeReconcile();
    await this.#plane.ensureNdmz();
    const networks = this.#store.networks();
    // Many NRs (a node's first start) take a while: a progress line every 2 s of a long pass.
    let progressAt = performance.now() + 2_000;
    for (const [index, network] of networks.entries()) {
      if (performance.now() >= progressAt) {
        progressAt = performance.now() + 2_000;
        this.#log(`reconcile: ${index} of ${networks.length} network(s) done, ${steps} step(s) so far`);
      }
      try {
        steps += await this.#applyOne(network);
        const result = await this.#reconcileWorkloads(network);
        reattached += result.reattached;
        forgotten.push(...result.forgotten);
      } catch (error) {
        const e = asNetworkdError(error);
        errors.push(`${network.name}: ${e.message}`);
        this.#log(`reconcile: network ${network.name}: ${e.message}`);
      }
    }
    const wanted = this.#wantedNetIds();
    const removedNrs: string[] = [];
    for (const netId of await this.#plane.listNrs()) {
      if (wanted.has(netId)) continue;
      await this.#plane.removeNr(netId);
      removedNrs.push(netId);
      this.#log(`reconcile: removed NR ${netId} (no stored network)`);
    }
    const removedDevices = await this.#plane.removeUnwantedDevices(wanted);
    this.#retainWorkloadNamespaces();
    const report: ReconcileReport = {
      steps,
      networks: networks.length,
      removedNrs,
      removedDevices,
      reattached,
      forgotten,
      errors,
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
    this.#lastReconcile = report;
    this.#onReconcile(report);
    if (
      steps > 0 ||
      removedNrs.length > 0 ||
      removedDevices.length > 0 ||
      reattached > 0 ||
      forgotten.length > 0 ||
      errors.length > 0
    ) {
      this.#log(
        `reconcile: ${steps} step(s), ${networks.length} network(s), ${reattached} workload(s) re-attached, ${forgotten.length} forgotten, ${removedNrs.length} NR(s) and ${removedDevices.length} device(s) removed, ${errors.length} error(s), ${report.ms} ms`,
      );
    }
    return report;
  }

  async #reconcileWorkloads(network: StoredNetwork): Promise<{ reattached: number; forgotten: string[] }> {
    const resource = this.#resourceOf(network);
    let state = this.#store.workloads(network.name);
    const forgotten: string[] = [];
    let reattached = 0;
    const nrNetns = this.#plane.nrNetnsPath(network.netId);
    const forbidden = Object.keys(state.workloads).length > 0 ? this.#forbiddenNamespaces() : [];
    for (const workload of Object.values(state.workloads)) {
      const reason = this.#whyNotAttachable(workload, forbidden);
      if (reason !== null) {
        state = await this.#release(network, state, workload, reason);
        forgotten.push(workload.workload);
        continue;
      }
      if (workload.netnsIdentity === null) {
        // A record from before identities were kept: adopt what its path names now (checked above).
        const adopted = { ...workload, netnsIdentity: readNetnsIdentity(workload.netns) };
        state = { ...state, workloads: { ...state.workloads, [workload.workload]: adopted } };
        await this.#store.putWorkloads(state);
      }
      if (await this.#links.attach(this.#linkSpec(network, resource, workload))) reattached++;
    }
    const wantedLinks = new Set(Object.values(state.workloads).map((w) => w.link));
    for (const link of await this.#links.list(nrNetns)) {
      if (wantedLinks.has(link)) continue;
      await this.#links.detach(nrNetns, link);
      this.#log(`reconcile: network ${network.name}: removed workload link ${link} (no stored workload)`);
    }
    return { reattached, forgotten };
  }

  // ---------------------------------------------------------------- helpers

  /**
   * The identity of the namespace `path` names, after refusing (400, naming what it is) one of
   * the node's own namespaces or another workload's. Reads only: nothing is entered or changed.
   */
  #checkWorkloadNamespace(
    path: string,
    workload: string,
    context: { network: string; workload: string },
  ): NetnsIdentity {
    const identity = readNetnsIdentity(path);
    const what = forbiddenMatch(identity, this.#forbiddenNamespaces());
    if (what !== null) throw invalid('netns', `${path} is ${what}: a workload is never attached there`, context);
    for (const network of this.#store.networks()) {
      for (const other of Object.values(this.#store.workloads(network.name).workloads)) {
        if (
          other.workload === workload ||
          other.netnsIdentity === null ||
          !sameNamespace(other.netnsIdentity, identity)
        )
          continue;
        throw invalid(
          'netns',
          `${path} is the namespace of workload ${other.workload} (network ${network.name}): one namespace is one workload's`,
          context,
        );
      }
    }
    return identity;
  }

  /** The namespaces no workload may be in, with their identities read now (once per attach or reconcile of a network). */
  #forbiddenNamespaces(): ResolvedForbidden[] {
    return resolveForbidden([...nodeNamespaces(this.#wgdPid()), ...this.#plane.ownNamespaces()]);
  }

  /** Why a stored workload may no longer be attached (its path names nothing, another namespace, or one of ours), or null. */
  #whyNotAttachable(workload: StoredWorkload, forbidden: readonly ResolvedForbidden[]): string | null {
    const now = tryNetnsIdentity(workload.netns);
    if (now === null) return `its netns ${workload.netns} no longer exists`;
    if (workload.netnsIdentity !== null && !sameHolder(workload.netnsIdentity, now)) {
      return `its netns ${workload.netns} now names another namespace than the one it was attached in (a reused PID)`;
    }
    const what = forbiddenMatch(now, forbidden);
    return what === null ? null : `its netns ${workload.netns} is ${what}`;
  }

  /** Forgets a workload (noting why) and removes its veth from the NR side only: its namespace is not entered. */
  async #release(
    network: StoredNetwork,
    state: StoredWorkloads,
    workload: StoredWorkload,
    reason: string,
  ): Promise<StoredWorkloads> {
    const next = withForgotten(state, { workload: workload.workload, reason, at: new Date().toISOString() });
    await this.#store.putWorkloads(next);
    await this.#links.detach(this.#plane.nrNetnsPath(network.netId), workload.link);
    this.#retainWorkloadNamespaces();
    this.#log(`network ${network.name}: workload ${workload.workload} detached and forgotten: ${reason}`);
    return next;
  }

  /** The namespaces workload links are still kept for: every stored NR and workload namespace. */
  #retainWorkloadNamespaces(): void {
    const paths: string[] = [];
    for (const network of this.#store.networks()) {
      paths.push(this.#plane.nrNetnsPath(network.netId));
      for (const workload of Object.values(this.#store.workloads(network.name).workloads)) paths.push(workload.netns);
    }
    this.#links.retain?.(paths);
  }

  #wantedNetIds(): Set<string> {
    return new Set(this.#store.networks().map((n) => n.netId));
  }

  #resourceOf(network: StoredNetwork): NodeResource {
    return resourceFor(network.definition, this.#nodeId);
  }

  /** Resolves endpoints (keeping the last good addresses), then applies the NR. */
  async #applyOne(network: StoredNetwork): Promise<number> {
    const resource = this.#resourceOf(network);
    const { endpoints, lastGood, changed } = await this.#resolver.resolveAll(
      resource.peers.map((p) => p.endpoint),
      network.resolved,
    );
    if (changed) await this.#store.putNetwork({ ...network, resolved: lastGood });
    for (const [index, result] of endpoints.entries()) {
      if (result.source === 'last-good')
        this.#log(`network ${network.name}: ${result.host} does not resolve; using its last good address`);
      if (result.source === 'unresolved' && result.host !== undefined)
        this.#log(
          `network ${network.name}: ${result.host} does not resolve and has no last good address; peer ${resource.peers[index]?.node} has no endpoint`,
        );
    }
    const numeric: NodeResource = {
      ...resource,
      peers: resource.peers.map((peer, index) => ({ ...peer, endpoint: endpoints[index]?.endpoint ?? null })),
    };
    const privateKey = this.#privateKeyOf(network.definition);
    const { steps } = await this.#plane.applyNr({
      resource: numeric,
      publicAddress: network.publicAddress,
      privateKey,
    });
    return steps;
  }

  #privateKeyOf(definition: NetworkDefinition): PrivateKey {
    const own = definition.resources.find((r) => r.node === this.#nodeId);
    if (!own) throw new NetworkdError('ENOTMEMBER', `this node is not a member of network "${definition.name}"`);
    return openResourceKey(own, this.#identity);
  }

  #linkSpec(network: StoredNetwork, resource: NodeResource, workload: StoredWorkload): WorkloadLinkSpec {
    return {
      nrNetns: this.#plane.nrNetnsPath(network.netId),
      link: workload.link,
      netns: workload.netns,
      ifname: workload.ifname,
      ip: workload.ip,
      gateway: resource.gateway,
      mtu: resource.mtu,
    };
  }

  async #attachResult(resource: NodeResource, workload: StoredWorkload): Promise<AttachResult> {
    return {
      workload: workload.workload,
      ip: workload.ip,
      prefix: 24,
      gateway: resource.gateway,
      routes: [{ destination: '0.0.0.0/0', via: resource.gateway }],
      mtu: resource.mtu,
      ifname: workload.ifname,
      netns: workload.netns,
      mac: await this.#readMac(workload.netns, workload.ifname),
    };
  }

  async #describe(network: StoredNetwork): Promise<NetworkView> {
    const resource = this.#resourceOf(network);
    let live: NrStatus | null = null;
    let liveError: string | undefined;
    try {
      live = await this.#plane.inspectNr(network.netId);
    } catch (error) {
      liveError = asNetworkdError(error).message;
    }
    const nodeByKey = new Map(network.definition.resources.map((r) => [r.wgPublicKey, r.node]));
    const workloads = this.#store.workloads(network.name);
    return {
      network: network.name,
      netId: network.netId,
      revision: network.definition.revision,
      ipRange: network.definition.ipRange,
      node: resource.node,
      subnet: resource.subnet,
      gateway: resource.gateway,
      wgAddress: resource.wgAddress,
      publicAddress: network.publicAddress,
      hidden: resource.hidden,
      role: resource.role,
      egress: resource.egress,
      namespace: live?.namespace ?? null,
      nrExists: live?.exists ?? false,
      device: live?.device
        ? {
            name: live.device.name,
            listenPort: live.device.listenPort,
            peers: live.device.peers.map((p) => ({ node: nodeByKey.get(p.publicKey) ?? null, ...p })),
          }
        : null,
      listenPort: live?.device?.listenPort ?? resource.listenPort,
      workloads: Object.values(workloads.workloads).map((w) => ({
        workload: w.workload,
        ip: w.ip,
        netns: w.netns,
        ifname: w.ifname,
        link: w.link,
        owner: w.owner.kind,
        containerId: w.owner.kind === 'cni' ? w.owner.containerId : null,
      })),
      forgottenWorkloads: [...workloads.forgotten],
      ...(liveError === undefined ? {} : { liveError }),
    };
  }
}
