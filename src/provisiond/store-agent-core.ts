/**
 * The store agent's logic, with no I/O (the shape of src/wg/protocol.ts): given what the store
 * showed (a full listing, or the networks a watch batch touched, re-read) and the time, it
 * returns what to do. The driver (store-agent.ts) performs the actions in the order returned.
 *
 * Inputs and the actions they produce:
 *   start                    → list
 *   listed(rev, views)       → commit(cursor rev, tasks, remembered) [+ report…] + watch(rev) (+ log on recovery)
 *   list-failed(err, now)    → log (first failure only) + retry-after(backoff)
 *   changed(rev, views)      → commit(cursor rev, tasks, remembered) [+ report…]
 *   watch-failed(err, now)   → log (once per state change) + list (compaction, cancel, any error: re-list and diff)
 *   watch-disconnected(err)  → log (first only); the client re-connects the watch from its last revision
 *   watch-connected          → log (after a disconnection only)
 *   retry-timer              → list
 *
 * A `commit` is ONE SQLite transaction: the saved cursor, the enqueued tasks and what the agent
 * remembers about each network, so a crash between them repeats nothing and loses nothing.
 * A network's decision depends only on its view and what was last enqueued for it (`known`):
 *   present, this node a member:  apply when it is new to the node or its revision is higher;
 *                                 an older revision than the one applied is refused (reported)
 *   present, not a member / gone: delete when the node was a member (but not for absence from a
 *                                 listing older than the saved cursor: a wiped or restored store)
 *   bad (fails validation):       reported, nothing enqueued — the node keeps what it runs
 *   the revision already applied: confirmed (the status key is rewritten if it is missing or stale,
 *                                 e.g. after the store was restored)
 */

import type { NetworkDefinition } from '../netdef/index.js';
import { type BackoffPolicy, retryDelayMs } from './backoff.js';

/** What the store holds for one network, as the driver read it. */
export type NetworkView =
  | {
      readonly kind: 'present';
      readonly definition: NetworkDefinition;
      readonly digest: string;
      /** Why this node refuses the definition (signature, trust), when it does: nothing is enqueued. */
      readonly refused?: string;
    }
  | { readonly kind: 'bad'; readonly error: string }
  | { readonly kind: 'absent' };

/** What the agent last enqueued for a network (persisted). */
export interface KnownNetwork {
  readonly revision: number;
  /** True after an apply, false after a delete. */
  readonly member: boolean;
}

export type AgentTask =
  | { readonly type: 'network.apply'; readonly id: string; readonly definition: NetworkDefinition }
  | { readonly type: 'network.delete'; readonly id: string; readonly network: string };

export interface Remembered extends KnownNetwork {
  readonly network: string;
}

export type AgentInput =
  | { readonly kind: 'start' }
  | { readonly kind: 'listed'; readonly revision: number; readonly views: ReadonlyMap<string, NetworkView> }
  | { readonly kind: 'list-failed'; readonly error: string }
  | { readonly kind: 'changed'; readonly revision: number; readonly views: ReadonlyMap<string, NetworkView> }
  | { readonly kind: 'watch-failed'; readonly error: string }
  | { readonly kind: 'watch-disconnected'; readonly error: string }
  | { readonly kind: 'watch-connected' }
  | { readonly kind: 'retry-timer' };

export type AgentAction =
  | { readonly kind: 'list' }
  | { readonly kind: 'watch'; readonly fromRevision: number }
  | {
      readonly kind: 'commit';
      readonly cursor: number;
      readonly tasks: readonly AgentTask[];
      readonly remembered: readonly Remembered[];
    }
  | { readonly kind: 'report'; readonly network: string; readonly revision: number; readonly error: string }
  /** The store shows what the node already applied: (re)write its status from the node's own record. */
  | { readonly kind: 'confirm'; readonly network: string; readonly revision: number }
  | { readonly kind: 'retry-after'; readonly ms: number }
  | { readonly kind: 'log'; readonly message: string };

export type AgentPhase = 'idle' | 'listing' | 'watching' | 'waiting';

export interface AgentCoreOptions {
  readonly nodeId: string;
  /** The revision saved by the last commit (0: never listed). */
  readonly cursor: number;
  readonly known: ReadonlyMap<string, KnownNetwork>;
  readonly backoff: BackoffPolicy;
  readonly random?: () => number;
}

/** A task id names one piece of work for ever: the same network, revision and content give the same id. */
export function applyTaskId(network: string, revision: number, digest: string): string {
  return `store:${network}:r${revision}:${digest.slice(0, 16)}`;
}

export function deleteTaskId(network: string, cursor: number): string {
  return `store:${network}:delete:${cursor}`;
}

export class StoreAgentCore {
  readonly nodeId: string;
  #cursor: number;
  readonly #known: Map<string, KnownNetwork>;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  #phase: AgentPhase = 'idle';
  #failures = 0;
  /** The error last logged; a repeated failure is not logged again (one line per state change). */
  #loggedError: string | null = null;

  constructor(options: AgentCoreOptions) {
    this.nodeId = options.nodeId;
    this.#cursor = options.cursor;
    this.#known = new Map(options.known);
    this.#backoff = options.backoff;
    this.#random = options.random ?? Math.random;
  }

  get cursor(): number {
    return this.#cursor;
  }

  get phase(): AgentPhase {
    return this.#phase;
  }

  known(network: string): KnownNetwork | undefined {
    return this.#known.get(network);
  }

  /** Every network the agent enqueued something for (metrics, status). */
  get knownNetworks(): ReadonlyMap<string, KnownNetwork> {
    return this.#known;
  }

  handle(input: AgentInput): AgentAction[] {
    switch (input.kind) {
      case 'start':
      case 'retry-timer':
        this.#phase = 'listing';
        return [{ kind: 'list' }];
      case 'listed': {
        // Networks the node knows and the listing lacks are gone from the store — unless the
        // listing is older than what the node saw: the store was wiped or restored, and an empty
        // or partial store must not tear down the fleet (an import may be on its way).
        const views = new Map(input.views);
        const replaced = input.revision < this.#cursor;
        const kept: AgentAction[] = [];
        for (const [network, known] of this.#known) {
          if (views.has(network) || !known.member) continue;
          if (!replaced) views.set(network, { kind: 'absent' });
          else {
            kept.push({
              kind: 'report',
              network,
              revision: known.revision,
              error: `absent from the store at revision ${input.revision}, older than revision ${this.#cursor} this node saw (the store was replaced or restored): kept; delete it from the store to remove it`,
            });
          }
        }
        const actions = [...this.#decide(input.revision, views), ...kept];
        if (this.#loggedError !== null)
          actions.unshift({
            kind: 'log',
            message: `store reachable again; listed at revision ${input.revision}, watching`,
          });
        this.#loggedError = null;
        this.#failures = 0;
        this.#phase = 'watching';
        actions.push({ kind: 'watch', fromRevision: input.revision + 1 });
        return actions;
      }
      case 'changed':
        if (this.#phase !== 'watching') return []; // a late batch of a watch already given up
        return this.#decide(input.revision, input.views);
      case 'list-failed': {
        this.#failures++;
        this.#phase = 'waiting';
        const ms = retryDelayMs(this.#failures, this.#backoff, this.#random);
        const actions: AgentAction[] = [];
        if (this.#loggedError === null) {
          actions.push({
            kind: 'log',
            message: `store unreachable (${input.error}); nothing changes on this node; retrying with backoff from revision ${this.#cursor}`,
          });
          this.#loggedError = input.error;
        }
        actions.push({ kind: 'retry-after', ms });
        return actions;
      }
      case 'watch-disconnected':
        if (this.#phase !== 'watching' || this.#loggedError !== null) return [];
        this.#loggedError = input.error;
        return [
          {
            kind: 'log',
            message: `store unreachable (${input.error}); nothing changes on this node; the watch resumes from revision ${this.#cursor}`,
          },
        ];
      case 'watch-connected':
        if (this.#phase !== 'watching' || this.#loggedError === null) return [];
        this.#loggedError = null;
        return [{ kind: 'log', message: 'store reachable again; watch resumed' }];
      case 'watch-failed': {
        if (this.#phase !== 'watching') return [];
        this.#phase = 'listing';
        return [
          { kind: 'log', message: `watch ended (${input.error}); re-listing and comparing with what this node runs` },
          { kind: 'list' },
        ];
      }
    }
  }

  #decide(revision: number, views: ReadonlyMap<string, NetworkView>): AgentAction[] {
    const tasks: AgentTask[] = [];
    const remembered: Remembered[] = [];
    const reports: AgentAction[] = [];
    const cursor = Math.max(this.#cursor, revision);
    for (const [network, view] of [...views].sort(([a], [b]) => a.localeCompare(b))) {
      const known = this.#known.get(network);
      if (view.kind === 'bad') {
        reports.push({ kind: 'report', network, revision: known?.revision ?? 0, error: view.error });
        continue;
      }
      const member = view.kind === 'present' && view.definition.resources.some((r) => r.node === this.nodeId);
      if (view.kind === 'present' && view.refused !== undefined) {
        // Neither applied nor taken as a removal: the last good revision keeps running.
        if (member || known?.member)
          reports.push({ kind: 'report', network, revision: view.definition.revision, error: view.refused });
        continue;
      }
      if (view.kind === 'present' && member) {
        const def = view.definition;
        if (known?.member && def.revision < known.revision) {
          reports.push({
            kind: 'report',
            network,
            revision: def.revision,
            error: `the store holds revision ${def.revision}, older than revision ${known.revision} this node applied: refused (never rolled back); bump the network's revision past ${known.revision}`,
          });
          continue;
        }
        if (known?.member && def.revision === known.revision) {
          reports.push({ kind: 'confirm', network, revision: def.revision });
          continue;
        }
        tasks.push({ type: 'network.apply', id: applyTaskId(network, def.revision, view.digest), definition: def });
        remembered.push({ network, revision: def.revision, member: true });
        continue;
      }
      if (known?.member) {
        const at = view.kind === 'present' ? view.definition.revision : known.revision;
        tasks.push({ type: 'network.delete', id: deleteTaskId(network, cursor), network });
        remembered.push({ network, revision: at, member: false });
      }
    }
    for (const r of remembered) this.#known.set(r.network, { revision: r.revision, member: r.member });
    const actions: AgentAction[] = [];
    if (tasks.length > 0 || cursor !== this.#cursor) actions.push({ kind: 'commit', cursor, tasks, remembered });
    this.#cursor = cursor;
    return [...actions, ...reports];
  }
}
