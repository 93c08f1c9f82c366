/**
 * The store agent, provisiond's I/O around StoreAgentCore: lists the store's networks, watches
 * them from the listed revision, turns the core's decisions into durable tasks (cursor and tasks
 * in one SQLite transaction), writes nodes/<id>/status/<network> when a task it enqueued ends,
 * and keeps nodes/<id>/alive on a ~10 s lease. The status carries the redemptions networkd accepted
 * as a via NR (for `zmesh net redeem --store`): read after each apply and, while the network has
 * an invitation through this node that is still pending, every few seconds — networkd has no
 * event stream, a redemption is a rare human-paced event, and a local GET per such network costs
 * nothing; polling stops once no invitation through this node is pending. When the store is unreachable nothing happens on
 * the node: the NRs keep forwarding, the agent retries with backoff and logs once per change.
 */

import type { Lease, Watcher } from 'etcd3';
import {
  type EtcdStore,
  NETWORKS,
  RESOLVE_EVERY_MS,
  type StoredNetwork,
  StoreError,
  aliveKey,
  networksOf,
  parseKey,
  rangePrefix,
  statusKey,
} from '../store/index.js';
import type { NodeStatus, RedemptionReport } from '../store/values.js';
import type { RedemptionSource } from './networkd-redemptions.js';
import { type TrustState, checkTrustedDefinition } from '../netdef/index.js';
import type { BackoffPolicy } from './backoff.js';
import type { Db } from './database.js';
import {
  type AgentAction,
  type AgentPhase,
  type AgentInput,
  type AgentTask,
  type NetworkView,
  StoreAgentCore,
} from './store-agent-core.js';
import { StoreAgentState } from './store-agent-state.js';
import type { TaskQueue } from './queue.js';
import { canonicalJson, fingerprintOf, parseTask } from './task.js';
import { FINAL_STATES } from './task-store.js';

export const ALIVE_TTL_SECONDS = 10;
export const STORE_SOURCE = 'store';
export const DEFAULT_STORE_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 10_000 };
/** How often networkd's redemptions are read while an invitation through this node is pending. */
export const REDEMPTION_POLL_MS = 5_000;
/** Watch events arriving within this window are re-read together. */
const BATCH_MS = 10;

export interface StoreAgentOptions {
  readonly store: EtcdStore;
  readonly nodeId: string;
  readonly db: Db;
  readonly queue: TaskQueue;
  readonly log: (message: string) => void;
  readonly backoff?: BackoffPolicy;
  /** How often the store's host names are resolved again while all is well (also on every re-list). */
  readonly resolveEveryMs?: number;
  /** What this node trusts (the node state dir's trusted-admin-keys), read per batch. */
  readonly trustedKeys: () => Promise<TrustState>;
  /** networkd's redemptions for a network (networkd-redemptions.ts); absent: none are reported. */
  readonly redemptions?: RedemptionSource;
  readonly redemptionPollMs?: number;
}

interface Awaited {
  readonly network: string;
  readonly revision: number;
  readonly type: AgentTask['type'];
}

/** A watch that the store does not confirm in this long is given up and the store listed again. */
const WATCH_CREATE_MS = 10_000;
/**
 * A watch that lost its stream and has not reconnected in this long is given up and the store
 * listed again: etcd3's watcher retries on its own, but after a cluster was replaced one agent's
 * never came back (no "connected" for over 60 s in the wipe/import e2e), while a listing does.
 */
const WATCH_RECONNECT_MS = 10_000;

/** `promise`, or an Error(message) after `ms` (the promise is left to settle on its own). */
async function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class StoreAgent {
  readonly #store: EtcdStore;
  readonly #nodeId: string;
  readonly #queue: TaskQueue;
  readonly #state: StoreAgentState;
  readonly #log: (message: string) => void;
  readonly #core: StoreAgentCore;
  readonly #trustedKeys: () => Promise<TrustState>;
  #watcher: Watcher | null = null;
  #watchGeneration = 0;
  #touched = new Set<string>();
  #touchedRevision = 0;
  #batchTimer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #aliveTimer: NodeJS.Timeout | null = null;
  #resolveTimer: NodeJS.Timeout | null = null;
  readonly #resolveEveryMs: number;
  #lease: Lease | null = null;
  /** Armed while the current watch is disconnected (WATCH_RECONNECT_MS). */
  #reconnectTimer: NodeJS.Timeout | null = null;
  /** Tasks this agent enqueued that have not ended yet. */
  readonly #awaiting = new Map<string, Awaited>();
  /** Statuses not yet written (the store was down): the latest per network wins. */
  readonly #statuses = new Map<string, NodeStatus>();
  #flushingStatuses = false;
  /** The last status written per network (a confirmation that changes nothing is not rewritten). */
  readonly #written = new Map<string, NodeStatus>();
  readonly #redemptionSource: RedemptionSource | null;
  readonly #redemptionPollMs: number;
  /** The redemptions last read from networkd per network: every status written carries them. */
  readonly #redemptions = new Map<string, readonly RedemptionReport[]>();
  /** Networks whose definition has an invitation through this node not yet redeemed: polled. */
  readonly #pendingVia = new Set<string>();
  #pollTimer: NodeJS.Timeout | null = null;
  /** The redemption read in progress per network (reads of one network are serialised). */
  readonly #refreshing = new Map<string, Promise<void>>();
  /** The last failure to read networkd's redemptions (logged once per change). */
  #redemptionError: string | null = null;
  #unsubscribe: (() => void) | null = null;
  #stopped = false;
  /** Serialises inputs: one is handled (and its actions performed) at a time. */
  #chain: Promise<void> = Promise.resolve();

  constructor(options: StoreAgentOptions) {
    this.#store = options.store;
    this.#nodeId = options.nodeId;
    this.#queue = options.queue;
    this.#log = options.log;
    this.#resolveEveryMs = options.resolveEveryMs ?? RESOLVE_EVERY_MS;
    this.#trustedKeys = options.trustedKeys;
    this.#redemptionSource = options.redemptions ?? null;
    this.#redemptionPollMs = options.redemptionPollMs ?? REDEMPTION_POLL_MS;
    this.#state = new StoreAgentState(options.db);
    this.#core = new StoreAgentCore({
      nodeId: options.nodeId,
      cursor: this.#state.cursor(),
      known: this.#state.known(),
      backoff: options.backoff ?? DEFAULT_STORE_BACKOFF,
    });
  }

  get cursor(): number {
    return this.#core.cursor;
  }

  /** 'watching' while the store answers and the watch runs. */
  get phase(): AgentPhase {
    return this.#core.phase;
  }

  /**
   * Per network of the store's for this node: the revision the agent took from the store
   * (published) and the one it last reported applied (0: none yet).
   */
  revisions(): { network: string; published: number; applied: number }[] {
    return [...this.#core.knownNetworks]
      .filter(([, k]) => k.member)
      .map(([network, k]) => {
        const written = this.#written.get(network);
        return { network, published: k.revision, applied: written?.state === 'applied' ? written.revision : 0 };
      });
  }

  start(): void {
    // Tasks enqueued before a restart: their end still has to be reported.
    for (const task of this.#queue.list({ state: 'pending' }).concat(this.#queue.list({ state: 'running' }))) {
      if (task.source === STORE_SOURCE) this.#awaitTask(task.id);
    }
    this.#unsubscribe = this.#queue.onChange(() => this.#checkAwaited());
    this.#input({ kind: 'start' });
    this.#scheduleResolve();
    this.#schedulePoll();
  }

  /** Reads networkd's redemptions of the networks with a pending invitation through this node. */
  #schedulePoll(): void {
    if (!this.#redemptionSource) return;
    this.#pollTimer = setTimeout(() => {
      void (async () => {
        for (const network of [...this.#pendingVia]) await this.#refreshRedemptions(network);
        if (!this.#stopped) this.#schedulePoll();
      })();
    }, this.#redemptionPollMs);
  }

  /** Re-reads `network`'s redemptions; when they changed, the network's last status is written again with them. */
  #refreshRedemptions(network: string): Promise<void> {
    // One read at a time per network: a slow older read never overwrites a newer one.
    const next = (this.#refreshing.get(network) ?? Promise.resolve()).then(() => this.#readRedemptions(network));
    this.#refreshing.set(network, next);
    void next.finally(() => {
      if (this.#refreshing.get(network) === next) this.#refreshing.delete(network);
    });
    return next;
  }

  async #readRedemptions(network: string): Promise<void> {
    if (!this.#redemptionSource || this.#stopped) return;
    let reports: readonly RedemptionReport[];
    try {
      reports = await this.#redemptionSource(network);
    } catch (error) {
      const message = `store agent: reading networkd's redemptions of "${network}": ${(error as Error).message}`;
      if (message !== this.#redemptionError) this.#log(message);
      this.#redemptionError = message;
      return;
    }
    this.#redemptionError = null;
    const before = this.#redemptions.get(network) ?? [];
    if (JSON.stringify(before) === JSON.stringify(reports)) return;
    this.#redemptions.set(network, reports);
    const last = this.#statuses.get(network) ?? this.#written.get(network);
    if (last && last.state !== 'deleted') {
      const { redemptions: _, ...status } = last;
      this.#setStatus(status);
    }
  }

  /** Tracks which networks have an invitation through this node still pending (from the store's views). */
  #notePending(views: ReadonlyMap<string, NetworkView>): void {
    for (const [network, view] of views) {
      if (view.kind === 'absent') this.#pendingVia.delete(network);
      if (view.kind !== 'present' || view.refused !== undefined) continue;
      const pending = (view.definition.externalPeers ?? []).some(
        (p) => p.via === this.#nodeId && p.publicKey === undefined,
      );
      if (pending) this.#pendingVia.add(network);
      else this.#pendingVia.delete(network);
    }
  }

  /** Resolves the store's names again now and then: a moved member is followed without a failure. */
  #scheduleResolve(): void {
    this.#resolveTimer = setTimeout(() => {
      void (async () => {
        try {
          if (await this.#refreshEndpoints()) {
            // The watch was on the old client: re-list and watch again on the new one.
            this.#watchGeneration++;
            void this.#watcher?.cancel().catch(() => {});
            this.#input({ kind: 'watch-failed', error: "the store's addresses changed" });
          }
        } catch (error) {
          this.#log(`store agent: resolving the store's names: ${(error as Error).message}`);
        } finally {
          if (!this.#stopped) this.#scheduleResolve();
        }
      })();
    }, this.#resolveEveryMs);
  }

  /** Resolves the store's names; when the client was replaced, the lease (on the old one) is re-made. */
  async #refreshEndpoints(): Promise<boolean> {
    if (this.#stopped || !(await this.#store.refreshEndpoints())) return false;
    const lease = this.#lease;
    this.#lease = null;
    lease?.release();
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#aliveTimer) clearTimeout(this.#aliveTimer);
    if (this.#resolveTimer) clearTimeout(this.#resolveTimer);
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#watchGeneration++;
    await this.#watcher?.cancel().catch(() => {});
    await this.#chain;
    await this.#lease?.revoke().catch(() => {});
    await this.#store.close();
  }

  #input(input: AgentInput): void {
    this.#chain = this.#chain
      .then(async () => {
        if (this.#stopped) return;
        for (const action of this.#core.handle(input)) await this.#perform(action);
      })
      .catch((error: unknown) => {
        this.#log(`store agent: ${(error as Error).message}`);
      });
  }

  async #perform(action: AgentAction): Promise<void> {
    switch (action.kind) {
      case 'list':
        return void this.#list();
      case 'watch':
        return this.#watch(action.fromRevision);
      case 'commit':
        return this.#commit(action.cursor, action.tasks, action.remembered);
      case 'report':
        this.#log(`network "${action.network}": ${action.error}`);
        this.#setStatus({
          network: action.network,
          revision: action.revision,
          state: 'invalid',
          error: action.error.slice(0, 2000),
          time: new Date().toISOString(),
        });
        return;
      case 'confirm':
        this.#confirm(action.network, action.revision);
        return;
      case 'retry-after':
        this.#retryTimer = setTimeout(() => this.#input({ kind: 'retry-timer' }), action.ms);
        return;
      case 'log':
        this.#log(action.message);
        return;
    }
  }

  /** Lists every network (in pages, at one revision); runs outside the input chain. */
  #list(): void {
    void (async () => {
      try {
        await this.#refreshEndpoints();
        const { revision, kvs } = await this.#store.call('list networks', () =>
          rangePrefix(this.#store.client, NETWORKS),
        );
        const views = new Map<string, NetworkView>();
        const verify = await this.#verifier();
        for (const [name, stored] of networksOf(kvs)) views.set(name, verify(viewOf(stored)));
        this.#notePending(views);
        if (revision < this.#core.cursor) this.#storeReplaced();
        this.#input({ kind: 'listed', revision, views });
        void this.#keepAlive();
        void this.#flushStatuses();
      } catch (error) {
        this.#input({ kind: 'list-failed', error: (error as Error).message });
      }
    })();
  }

  async #watch(fromRevision: number): Promise<void> {
    const generation = ++this.#watchGeneration;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const old = this.#watcher;
    this.#watcher = null;
    // Not awaited: cancelling waits for the server's acknowledgement on the watch stream, and a
    // stream to a store that was wiped or restarted may never give one. Awaited here, it held up
    // every later input: after the e2e's cluster wipe one agent applied and reported nothing more.
    void old?.cancel().catch(() => {});
    let watcher: Watcher;
    const creating = this.#store.client.watch().prefix(NETWORKS).startRevision(String(fromRevision)).create();
    try {
      watcher = await withDeadline(
        creating,
        WATCH_CREATE_MS,
        `no answer to the watch request within ${WATCH_CREATE_MS / 1000} s`,
      );
    } catch (error) {
      // A watch confirmed after its deadline is nobody's: cancel it then.
      creating.then((late) => late.cancel().catch(() => {})).catch(() => {});
      this.#input({ kind: 'watch-failed', error: (error as Error).message });
      return;
    }
    if (generation !== this.#watchGeneration) {
      await watcher.cancel().catch(() => {});
      return;
    }
    this.#watcher = watcher;
    watcher.on('data', (response) => {
      if (generation !== this.#watchGeneration) return;
      for (const event of response.events) {
        const key = parseKey(event.kv.key.toString());
        if (key.kind === 'meta' || key.kind === 'resource') this.#touched.add(key.network);
      }
      this.#touchedRevision = Math.max(this.#touchedRevision, Number(response.header.revision));
      this.#batchTimer ??= setTimeout(() => this.#readTouched(generation), BATCH_MS);
    });
    watcher.on('disconnected', (error) => {
      if (generation !== this.#watchGeneration) return;
      this.#input({ kind: 'watch-disconnected', error: error.message });
      this.#reconnectTimer ??= setTimeout(() => {
        this.#reconnectTimer = null;
        if (generation !== this.#watchGeneration || this.#stopped) return;
        this.#watchGeneration++;
        void watcher.cancel().catch(() => {});
        this.#input({
          kind: 'watch-failed',
          error: `the watch did not reconnect within ${WATCH_RECONNECT_MS / 1000} s`,
        });
      }, WATCH_RECONNECT_MS);
    });
    watcher.on('connected', (response) => {
      if (generation !== this.#watchGeneration) return;
      if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
      // A store whose revision went back was wiped or restored: the watch's resume revision is
      // from another history (it would wait for the future). Re-list instead.
      if (Number(response.header?.revision ?? 0) < this.#core.cursor) {
        this.#storeReplaced();
        this.#watchGeneration++;
        void watcher.cancel().catch(() => {});
        this.#input({
          kind: 'watch-failed',
          error: `the store's revision ${response.header?.revision} is below ${this.#core.cursor}: replaced or restored`,
        });
        return;
      }
      this.#input({ kind: 'watch-connected' });
      void this.#keepAlive();
      void this.#flushStatuses();
    });
    // The etcd3 watcher does not recover from compaction ("Watcher canceled"): re-list.
    watcher.on('error', (error) => {
      if (generation !== this.#watchGeneration) return;
      this.#watchGeneration++;
      void watcher.cancel().catch(() => {});
      this.#input({ kind: 'watch-failed', error: error.message });
    });
  }

  /** Re-reads the networks a watch batch touched, each at the store's current revision. */
  #readTouched(generation: number): void {
    this.#batchTimer = null;
    const names = [...this.#touched];
    const revision = this.#touchedRevision;
    this.#touched.clear();
    void (async () => {
      try {
        const views = new Map<string, NetworkView>();
        const verify = await this.#verifier();
        for (const name of names) views.set(name, verify(await readView(this.#store, name)));
        this.#notePending(views);
        if (generation === this.#watchGeneration) this.#input({ kind: 'changed', revision, views });
      } catch (error) {
        if (generation !== this.#watchGeneration) return;
        this.#watchGeneration++;
        void this.#watcher?.cancel().catch(() => {});
        this.#input({ kind: 'watch-failed', error: (error as Error).message });
      }
    })();
  }

  async #commit(
    cursor: number,
    tasks: readonly AgentTask[],
    remembered: Parameters<StoreAgentState['save']>[1],
  ): Promise<void> {
    const parsed = tasks.map((t) => parseTask(t));
    await this.#queue.submit(parsed, STORE_SOURCE, () => this.#state.save(cursor, remembered));
    for (const task of tasks) {
      const network = task.type === 'network.apply' ? task.definition.name : task.network;
      const revision = remembered.find((r) => r.network === network)?.revision ?? 0;
      this.#awaiting.set(task.id, { network, revision, type: task.type });
      if (task.type === 'network.apply')
        this.#log(`network "${network}": revision ${revision} queued (task ${task.id})`);
      else this.#log(`network "${network}": this node left it; delete queued (task ${task.id})`);
    }
    this.#checkAwaited();
  }

  #awaitTask(id: string): void {
    const body = this.#queue.store.body(this.#queue.get(id)?.seq ?? -1);
    if (!body) return;
    if (body.type === 'network.apply')
      this.#awaiting.set(id, { network: body.definition.name, revision: body.definition.revision, type: body.type });
    else if (body.type === 'network.delete')
      this.#awaiting.set(id, {
        network: body.network,
        revision: this.#core.known(body.network)?.revision ?? 0,
        type: body.type,
      });
  }

  #checkAwaited(): void {
    for (const [id, awaited] of this.#awaiting) {
      const record = this.#queue.get(id);
      if (!record || !FINAL_STATES.includes(record.state)) continue;
      this.#awaiting.delete(id);
      const ok = record.state === 'succeeded';
      if (ok && awaited.type === 'network.delete') this.#redemptions.delete(awaited.network);
      this.#setStatus({
        network: awaited.network,
        revision: awaited.revision,
        state: ok ? (awaited.type === 'network.apply' ? 'applied' : 'deleted') : 'failed',
        ...(ok ? {} : { error: (record.error?.message ?? record.state).slice(0, 2000) }),
        time: new Date().toISOString(),
      });
      if (ok && awaited.type === 'network.apply') void this.#refreshRedemptions(awaited.network);
    }
  }

  /** The status of the last task this agent queued for `network` (from the database), written if it changed. */
  #confirm(network: string, revision: number): void {
    const tasks = this.#queue.list({ network, limit: 100_000 }).filter((r) => r.source === STORE_SOURCE);
    const last = tasks[tasks.length - 1];
    if (!last || !FINAL_STATES.includes(last.state)) return; // still running: its end is reported
    const ok = last.state === 'succeeded';
    const status: NodeStatus = {
      network,
      revision,
      state: ok ? 'applied' : 'failed',
      ...(ok ? {} : { error: (last.error?.message ?? last.state).slice(0, 2000) }),
      time: new Date(last.finishedAt ?? last.updatedAt).toISOString(),
    };
    const written = this.#written.get(network);
    if (
      written &&
      written.state === status.state &&
      written.revision === status.revision &&
      written.time === status.time
    )
      return;
    this.#setStatus(status);
    void this.#refreshRedemptions(network);
  }

  /** Queues `status` for writing, with the network's redemptions as last read (a deletion has none). */
  #setStatus(status: NodeStatus): void {
    const redemptions = this.#redemptions.get(status.network) ?? [];
    const full =
      status.state === 'deleted' || redemptions.length === 0 ? status : { ...status, redemptions: [...redemptions] };
    this.#statuses.set(status.network, full);
    void this.#flushStatuses();
  }

  /** Writes the statuses not yet written; on failure they wait for the next successful contact. */
  async #flushStatuses(): Promise<void> {
    if (this.#flushingStatuses || this.#stopped) return;
    this.#flushingStatuses = true;
    try {
      while (this.#statuses.size > 0 && !this.#stopped) {
        const [network, status] = this.#statuses.entries().next().value as [string, NodeStatus];
        try {
          await this.#store.client.put(statusKey(this.#nodeId, network)).value(JSON.stringify(status)).exec();
        } catch {
          return; // the store is down: the next listing flushes again
        }
        this.#written.set(network, status);
        if (this.#statuses.get(network) === status) this.#statuses.delete(network);
      }
    } finally {
      this.#flushingStatuses = false;
    }
  }

  /**
   * Checks each present definition's trust log and signature against the node's trust (the file,
   * followed through the trust logs verified so far in this batch: networkd may not have applied
   * them yet); a refused one carries the reason and is never enqueued. Each definition carries
   * the trust changes it needs (trust-log.ts), so one skipped by the agent is no change missed.
   */
  async #verifier(): Promise<(view: NetworkView) => NetworkView> {
    let trusted: TrustState;
    try {
      trusted = await this.#trustedKeys();
    } catch (error) {
      const reason = `refused: the trusted admin keys are unreadable (${(error as Error).message})`;
      return (view) => (view.kind === 'present' ? { ...view, refused: reason } : view);
    }
    return (view) => {
      if (view.kind !== 'present') return view;
      const check = checkTrustedDefinition(trusted, view.definition);
      if (!check.ok) return { ...view, refused: `refused: ${check.reason}` };
      trusted = check.state;
      return view;
    };
  }

  /**
   * The store's revision went back: it was wiped or restored, and what this agent wrote there is
   * gone with it. Every status is written again at its next confirmation (nothing compares with
   * what the old store held), and nodes/<id>/alive is put on a new lease at once (the old lease
   * belonged to the old store; the client would only notice it lost after its TTL).
   */
  #storeReplaced(): void {
    this.#written.clear();
    const lease = this.#lease;
    this.#lease = null;
    lease?.release();
    void this.#keepAlive();
  }

  /** A lost lease (the store was away longer than its TTL) is made again, every 2 s until it is. */
  #retryAlive(): void {
    if (this.#stopped || this.#aliveTimer) return;
    this.#aliveTimer = setTimeout(() => {
      this.#aliveTimer = null;
      void this.#keepAlive();
    }, 2_000);
  }

  /** nodes/<id>/alive bound to a lease kept alive by the client; re-made after the lease is lost. */
  async #keepAlive(): Promise<void> {
    if (this.#lease || this.#stopped) return;
    const lease = this.#store.client.lease(ALIVE_TTL_SECONDS);
    this.#lease = lease;
    lease.on('lost', () => {
      if (this.#lease !== lease) return;
      this.#lease = null;
      this.#retryAlive();
    });
    try {
      await lease
        .put(aliveKey(this.#nodeId))
        .value(JSON.stringify({ since: new Date().toISOString(), pid: process.pid }))
        .exec();
    } catch {
      if (this.#lease === lease) this.#lease = null;
      lease.release();
      this.#retryAlive();
    }
  }
}

function viewOf(stored: StoredNetwork | StoreError): NetworkView {
  if (stored instanceof StoreError) return { kind: 'bad', error: stored.message };
  // The digest of the whole definition: the task id changes with any content, roles included.
  return { kind: 'present', definition: stored.definition, digest: fingerprintOf(canonicalJson(stored.definition)) };
}

/** One network's view; a bad value is a view, an unreachable store an error (the watch is given up). */
async function readView(store: EtcdStore, name: string): Promise<NetworkView> {
  try {
    const stored = await store.readStored(name);
    return stored ? viewOf(stored) : { kind: 'absent' };
  } catch (error) {
    if (error instanceof StoreError && error.code === 'EBADVALUE') return { kind: 'bad', error: error.message };
    throw error;
  }
}
