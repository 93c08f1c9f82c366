/**
 * The operations of networkd, independent of HTTP: apply and delete a network, attach and
 * detach workloads, list and inspect with live status, and reconcile. Every change follows the
 * same order: validate everything first (bad input changes nothing), write the store, then act
 * on the kernel; a crash in between is repaired by the next reconcile. Changes and reconcile
 * passes run one at a time (SerialQueue), in arrival order; within a pass, a few networks at once.
 */
import {
  type WorkloadLinkSpec,
  allocatePublicAddress,
  parseNetId,
  readInterfaceMac,
  wgDeviceName,
  workloadLinkName,
} from '../nr/index.js';
import {
  InvitationError,
  type NetworkDefinition,
  type NodeResource,
  type PrivateKey,
  type Redemption,
  UnsealError,
  decideEnrolment,
  formatRedemption,
  parseEnrolmentRequest,
  withRedemptions,
  netIdOf,
  openResourceKey,
  parseNetworkDefinition,
  type TrustState,
  checkTrustedDefinition,
  peersWithCarriers,
  pinningIssues,
  resourceFor,
} from '../netdef/index.js';
import type { DataPlane, NrStatus } from './data-plane.js';
import { type EnrolmentAnswer, type EnrolmentEndpoints, refusal } from './enrolment-server.js';
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
  FailoverView,
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

/**
 * Networks a reconcile pass applies at once. Their NRs share nothing but ndmz (made before) and
 * wgd, so they overlap; bounded, so a node's first start with many networks keeps the kernel, wgd
 * and nft work queued rather than all at once. `npm run bench:nr -- --in-flight N` measures it.
 */
export const RECONCILE_IN_FLIGHT = 4;

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
  /** Where accepted redemptions are recorded durably (redemptions.ts); default: memory (tests only). */
  readonly redemptions?: RedemptionRecords;
  /** The enrolment listeners of the NRs this node is a via NR for (none: invitations cannot be redeemed here). */
  readonly enrolment?: EnrolmentEndpoints;
  /** The clock of invitation expiry (tests). */
  readonly now?: () => Date;
}

/** The durable record of accepted redemptions (RedemptionLog on a real node). */
export interface RedemptionRecords {
  of(network: string): readonly Redemption[];
  add(redemption: Redemption): Promise<void>;
  forget(network: string): Promise<void>;
}

function memoryRedemptions(): RedemptionRecords {
  const byNetwork = new Map<string, Redemption[]>();
  return {
    of: (network) => byNetwork.get(network) ?? [],
    add: async (r) => void byNetwork.set(r.network, [...(byNetwork.get(r.network) ?? []), r]),
    forget: async (network) => void byNetwork.delete(network),
  };
}

/** The node's trust: its admin keys and how far it followed the trust log (trusted-keys.ts on a real node). */
export interface TrustedKeys {
  read(): Promise<TrustState>;
  write(state: TrustState): Promise<void>;
}

/** Which aggregator a network's NR uses now, and the switches that led there (newest last, bounded). */
export interface AggregatorChoice {
  readonly current: string;
  readonly up: Readonly<Record<string, boolean>>;
  /** Hidden NR → the aggregator carrying it for this (public) NR (carriage.ts); absent: `current`. */
  readonly carriers: Readonly<Record<string, string>>;
  readonly switches: readonly AggregatorSwitchRecord[];
}

export interface AggregatorSwitchRecord {
  readonly from: string;
  readonly to: string;
  readonly reason: 'down' | 'returned';
  readonly at: string;
}

const MAX_SWITCH_RECORDS = 20;

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
  readonly #redemptions: RedemptionRecords;
  readonly #enrolment: EnrolmentEndpoints | null;
  readonly #now: () => Date;
  readonly #queue = new SerialQueue();
  /** Per network: the aggregator the data path uses now and the switches so far (failover-monitor.ts decides). */
  readonly #failover = new Map<string, AggregatorChoice>();
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
    this.#redemptions = options.redemptions ?? memoryRedemptions();
    this.#enrolment = options.enrolment ?? null;
    this.#now = options.now ?? (() => new Date());
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
      // In the queue: a trust change of an earlier definition counts for this one.
      const trusted = await this.#trust.read();
      const check = checkTrustedDefinition(trusted, definition);
      if (!check.ok) throw invalid(check.field, `refused: ${check.reason}`, { network: name });
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
        await this.#updateTrust(trusted, check.state, definition);
      } else {
        network = stored;
      }
      let steps = await this.#applyOne(network);
      // A new revision's workloads within the apply, not at the reconcile after it: a service that
      // moved here answers (its workload holds the address), one that moved away leaves its old one.
      if (decision.kind === 'apply') {
        try {
          steps += (await this.#syncWorkloads(network)).steps;
        } catch (error) {
          this.#log(`network ${name}: workloads not brought up to date: ${asNetworkdError(error).message}`);
        }
      }
      const ms = Math.round((performance.now() - started) * 10) / 10;
      this.#log(`network ${name}: applied revision ${definition.revision} in ${steps} step(s), ${ms} ms`);
      this.scheduleReconcile();
      return { network: name, netId: network.netId, revision: definition.revision, applied: { steps, ms } };
    });
  }

  /** A stored definition's trust changes: the node's trust changes for every later definition. */
  async #updateTrust(trusted: TrustState, next: TrustState, definition: NetworkDefinition): Promise<void> {
    if (next.through === trusted.through && next.keys.join() === trusted.keys.join()) return;
    await this.#trust.write(next);
    this.#log(
      `trusted admin keys: ${next.keys.length}, trust log followed to change #${next.through} (network ${definition.name} revision ${definition.revision})`,
    );
  }

  /** DELETE /v1/networks/{name}: state first, then workloads detached, then the NR removed. */
  deleteNetwork(name: NetworkName): Promise<DeleteResult> {
    return this.#queue.run(async () => {
      const stored = this.#store.network(name);
      if (!stored) throw notFound(`network "${name}" is not applied on this node`, { network: name });
      const workloads = Object.values(this.#store.workloads(name).workloads);
      await this.#store.removeNetwork(name);
      await this.#enrolment?.close(name);
      await this.#redemptions.forget(name);
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

  // ---------------------------------------------------------------- invitations

  /**
   * POST /v1/redeem on `name`'s enrolment endpoint, from `source` (the connection's address, which
   * WireGuard ties to the invitation's temporary key). Accepted: recorded durably, answered, and
   * only then is the NR switched to the permanent key (the answer still leaves through the
   * temporary key's entry). Refused: nothing changes.
   */
  redeem(name: string, source: string, body: unknown): Promise<EnrolmentAnswer> {
    return this.#queue.run(async () => {
      const network = this.#store.network(name);
      if (!network) return refusal(404, 'ENOINVITE', `network "${name}" is not applied on this node`);
      let request: ReturnType<typeof parseEnrolmentRequest>;
      try {
        request = parseEnrolmentRequest(body);
      } catch (error) {
        if (error instanceof InvitationError) return refusal(400, 'EINVAL', `${error.path}: ${error.message}`);
        throw error;
      }
      const def = withRedemptions(network.definition, this.#nodeId, this.#redemptions.of(name));
      const decision = decideEnrolment(def, this.#nodeId, source, request, this.#now());
      if (!decision.ok) {
        this.#log(`network ${name}: redemption from ${source} refused: ${decision.refusal.message}`);
        return refusal(decision.refusal.status, decision.refusal.code, decision.refusal.message);
      }
      const { redemption } = decision;
      await this.#redemptions.add(redemption);
      this.#log(`network ${name}: external peer "${redemption.name}" redeemed its invitation (${source})`);
      const peer = { name: redemption.name, address: source, redeemedAt: redemption.redeemedAt };
      return {
        status: 200,
        body: { redeemed: peer },
        afterSent: () => {
          this.#queue
            .run(async () => {
              const current = this.#store.network(name);
              if (current) await this.#applyOne(current);
            })
            .catch((error) => this.#log(`network ${name}: applying the redemption: ${asNetworkdError(error).message}`));
        },
      };
    });
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
      if (servesAny(resource, [record.workload])) await this.#applyOne(network);
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
      // Its services' routes go with it: its address is free for the next attach.
      if (servesAny(this.#resourceOf(network), [workload])) await this.#applyOne(network);
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
      if (servesAny(this.#resourceOf(network), released)) await this.#applyOne(network);
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
    let done = 0;
    // Networks are independent (one NR each, one store file each), so several are applied at once:
    // one's kernel, nft and wgd round trips overlap another's. Errors stay in the networks' order.
    const failures: Array<string | null> = networks.map(() => null);
    const forgottenOf: string[][] = networks.map(() => []);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(RECONCILE_IN_FLIGHT, networks.length) }, async () => {
        while (next < networks.length) {
          const index = next++;
          const network = networks[index]!;
          if (performance.now() >= progressAt) {
            progressAt = performance.now() + 2_000;
            this.#log(`reconcile: ${done} of ${networks.length} network(s) done, ${steps} step(s) so far`);
          }
          try {
            steps += await this.#applyOne(network);
            const result = await this.#syncWorkloads(network);
            steps += result.steps;
            reattached += result.reattached;
            forgottenOf[index] = result.forgotten;
          } catch (error) {
            const e = asNetworkdError(error);
            failures[index] = `${network.name}: ${e.message}`;
            this.#log(`reconcile: network ${network.name}: ${e.message}`);
          }
          done++;
        }
      }),
    );
    errors.push(...failures.filter((failure) => failure !== null));
    forgotten.push(...forgottenOf.flat());
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

  /**
   * The network's workloads re-checked (reconcileWorkloads), then the NR re-planned when one its
   * services name was forgotten: a service's route never points at a released address.
   */
  async #syncWorkloads(network: StoredNetwork): Promise<{ steps: number; reattached: number; forgotten: string[] }> {
    const result = await this.#reconcileWorkloads(network);
    const steps = servesAny(this.#resourceOf(network), result.forgotten) ? await this.#applyOne(network) : 0;
    return { steps, ...result };
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

  // ---------------------------------------------------------------- failover

  /** The networks with several aggregators, as the liveness monitor needs them (resource as derived). */
  failoverTargets(): { network: string; netId: string; resource: NodeResource }[] {
    return this.#store
      .networks()
      .map((network) => ({ network: network.name, netId: network.netId, resource: this.#resourceOf(network) }))
      .filter((target) => target.resource.failover !== undefined);
  }

  failoverChoice(network: string): AggregatorChoice | undefined {
    return this.#failover.get(network);
  }

  /**
   * Records what liveness saw and, on a switch or a hidden NR's new carrier, moves the allowed
   * IPs there: the same apply as any change (plan → diff → apply), which here changes only peers'
   * allowed IPs. Recorded first, so a reconcile running meanwhile applies the same choice.
   */
  chooseAggregator(
    name: string,
    current: string,
    up: Readonly<Record<string, boolean>>,
    change: { from: string; to: string; reason: 'down' | 'returned' } | null,
    carriers: Readonly<Record<string, string>> = {},
  ): Promise<number> {
    const before = this.#failover.get(name);
    const switches = change
      ? [...(before?.switches ?? []), { ...change, at: new Date().toISOString() }].slice(-MAX_SWITCH_RECORDS)
      : (before?.switches ?? []);
    this.#failover.set(name, { current, up, carriers, switches });
    // Before the first choice, the peers carry the preferred assignment: the current aggregator's.
    const wasCarried = (hidden: string) => before?.carriers[hidden] ?? before?.current ?? current;
    const moved = Object.entries(carriers).filter(([hidden, via]) => wasCarried(hidden) !== via);
    if (!change && moved.length === 0) return Promise.resolve(0);
    if (change) {
      this.#log(
        `network ${name}: aggregator ${change.from} → ${change.to} (${change.reason === 'down' ? `${change.from} is down` : `${change.to} is back`})`,
      );
    }
    for (const [hidden, via] of moved)
      this.#log(`network ${name}: hidden ${hidden} via ${wasCarried(hidden)} → ${via}`);
    return this.#queue.run(async () => {
      const network = this.#store.network(name);
      return network ? this.#applyOne(network) : 0;
    });
  }

  /**
   * Re-dials an aggregator that is down for this (hidden) NR: its peer is removed and added again,
   * which drops the stale session, so the re-added peer's keepalive starts a handshake at once —
   * the aggregator, back from a restart, does not know where this NR is and cannot dial it.
   */
  redialAggregator(name: string, aggregator: string): Promise<void> {
    return this.#queue.run(async () => {
      const network = this.#store.network(name);
      if (!network) return;
      await this.#applyOne(network, aggregator);
      await this.#applyOne(network);
    });
  }

  #failoverView(name: string, resource: NodeResource): FailoverView {
    const aggregators = [...(resource.failover?.aggregators ?? [])];
    const choice = this.#failover.get(name);
    return {
      aggregators,
      current: choice?.current ?? aggregators[0] ?? '',
      up: { ...(choice?.up ?? {}) },
      carriers: { ...(choice?.carriers ?? {}) },
      switches: (choice?.switches ?? []).map((s) => ({ ...s })),
    };
  }

  /** Forgets the failover state of networks no longer stored. */
  forgetFailover(keep: ReadonlySet<string>): void {
    for (const name of this.#failover.keys()) if (!keep.has(name)) this.#failover.delete(name);
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

  /**
   * This node's resource, with the redemptions it accepted that the admin has not signed yet, and
   * its peers as the current aggregator wants them (the preferred one's until a switch).
   */
  #resourceOf(network: StoredNetwork): NodeResource {
    const def = withRedemptions(network.definition, this.#nodeId, this.#redemptions.of(network.name));
    const resource = resourceFor(def, this.#nodeId);
    const choice = this.#failover.get(network.name);
    if (resource.failover === undefined || choice === undefined) return resource;
    const carrier = (move: { hidden?: string }) =>
      (move.hidden === undefined ? undefined : choice.carriers[move.hidden]) ?? choice.current;
    return { ...resource, peers: peersWithCarriers(resource.peers, resource.failover, carrier) };
  }

  /** Resolves endpoints (keeping the last good addresses), then applies the NR (without the peer `omit`, if given). */
  async #applyOne(network: StoredNetwork, omit?: string): Promise<number> {
    const full = this.#resourceOf(network);
    const resource = omit === undefined ? full : { ...full, peers: full.peers.filter((p) => p.node !== omit) };
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
    const workloads = Object.values(this.#store.workloads(network.name).workloads);
    const { steps } = await this.#plane.applyNr({
      resource: numeric,
      publicAddress: network.publicAddress,
      privateKey,
      workloadAddresses: new Map(workloads.map((w) => [w.workload, w.ip])),
    });
    await this.#syncEnrolment(network, resource);
    return steps;
  }

  /** The enrolment endpoint listens while the NR has pending invitations, and only then. */
  async #syncEnrolment(network: StoredNetwork, resource: NodeResource): Promise<void> {
    if (!this.#enrolment) return;
    if (!resource.enrolment || resource.enrolment.pending.length === 0) {
      await this.#enrolment.close(network.name);
      return;
    }
    await this.#enrolment.ensure(network.name, {
      netnsPath: this.#plane.nrNetnsPath(network.netId),
      device: wgDeviceName(parseNetId(network.netId)),
      address: resource.wgAddress,
      port: resource.enrolment.port,
    });
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
      serviceAddresses: (resource.services ?? [])
        .filter((s) => s.workload === workload.workload)
        .map((s) => `${s.address}/32`),
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
      redemptions: this.#redemptions.of(network.name).map(formatRedemption),
      ...(liveError === undefined ? {} : { liveError }),
      ...(resource.failover === undefined ? {} : { failover: this.#failoverView(network.name, resource) }),
    };
  }
}

/** Whether a service of `resource` is named for one of `workloads` (its route depends on them). */
function servesAny(resource: NodeResource, workloads: readonly string[]): boolean {
  return (resource.services ?? []).some((s) => s.workload !== null && workloads.includes(s.workload));
}
