/**
 * The task queue: takes tasks, persists them, hands each network's tasks to the handler one at
 * a time in submission order (different networks concurrently, up to `concurrency` in flight),
 * records every attempt and retries with backoff.
 *
 * Group commit: SQLite with synchronous=FULL costs one fsync per commit (milliseconds), so every
 * change that arrives in the same turn of the event loop — submissions, attempt results, cancels
 * — is written in ONE transaction, and the claim of the next due tasks rides in the same
 * transaction. Nothing is acknowledged and nothing is sent before its transaction committed:
 * a submit resolves after its task is on disk, and a task is sent only after "running attempt n"
 * is on disk. A failed commit is fatal (`onFatal`): the process should exit and a restart
 * recovers from the database, which is always consistent.
 */
import { type BackoffPolicy, DEFAULT_BACKOFF, checkBackoff, retryDelayMs } from './backoff.js';
import type { Db } from './database.js';
import { ProvisiondError, asProvisiondError } from './errors.js';
import type { HandlerOutcome, TaskHandler } from './handler.js';
import type { Task } from './task.js';
import { type ClaimedTask, type Completion, type ListFilter, type TaskRecord, TaskStore } from './task-store.js';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const DEFAULT_CONCURRENCY = 8;
/** Retries after an answer (5xx) stop here; unreachable networkd is retried for ever. */
export const DEFAULT_MAX_ATTEMPTS = 10;

export interface QueueOptions {
  readonly db: Db;
  readonly handler: TaskHandler;
  readonly concurrency?: number;
  readonly backoff?: BackoffPolicy;
  readonly maxAttempts?: number;
  readonly clock?: Clock;
  /** [0, 1): the jitter source. */
  readonly random?: () => number;
  readonly log?: (message: string) => void;
  /** A commit failed: the in-memory view can no longer be trusted. Default: log it. */
  readonly onFatal?: (error: unknown) => void;
}

export interface SubmitResult {
  readonly task: TaskRecord;
  /** False when a task with this id and body existed already (nothing new is done). */
  readonly created: boolean;
}

interface PendingWrite {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class TaskQueue {
  readonly store: TaskStore;
  readonly #db: Db;
  readonly #handler: TaskHandler;
  readonly #concurrency: number;
  readonly #backoff: BackoffPolicy;
  readonly #maxAttempts: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #log: (message: string) => void;
  readonly #onFatal: (error: unknown) => void;
  #writes: PendingWrite[] = [];
  #flushScheduled = false;
  #inFlight = 0;
  #started = false;
  #stopping = false;
  #closed = false;
  #fatal: unknown = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #wakeAt: number | null = null;
  #settledWaiters: (() => void)[] = [];
  #changeListeners = new Set<() => void>();

  constructor(options: QueueOptions) {
    this.#db = options.db;
    this.store = new TaskStore(options.db);
    this.#handler = options.handler;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1 || this.#concurrency > 1024)
      throw new RangeError('concurrency must be an integer from 1 to 1024');
    this.#backoff = checkBackoff(options.backoff ?? DEFAULT_BACKOFF);
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#log = options.log ?? (() => {});
    this.#onFatal = options.onFatal ?? ((error) => this.#log(`fatal: ${asProvisiondError(error).message}`));
  }

  /** Recovers tasks left running by a crash (re-sent with the same task id), then starts dispatching. */
  start(): { recovered: number } {
    if (this.#started) throw new Error('queue already started');
    this.#started = true;
    const recovered = this.#db.transaction(() => this.store.recover(this.#clock.now())).immediate();
    if (recovered > 0)
      this.#log(`recovered ${recovered} task(s) left running by the previous run; re-sending them with their task ids`);
    this.#scheduleFlush();
    return { recovered };
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Adds validated tasks (all in one transaction); resolves when they are on disk. `alongside`
   * runs in the same transaction (the store agent saves its watch revision with its tasks).
   */
  submit(tasks: readonly Task[], source = 'api', alongside?: () => void): Promise<SubmitResult[]> {
    return this.#write(() => {
      const now = this.#clock.now();
      const results = tasks.map((task) => {
        const { record, created } = this.store.insert(task, source, now);
        return { task: record, created };
      });
      alongside?.();
      return results;
    });
  }

  /** Cancels a pending task (ESTATE when it is running or finished). */
  cancel(id: string): Promise<TaskRecord> {
    return this.#write(() => this.store.cancel(id, this.#clock.now()));
  }

  get(id: string): TaskRecord | undefined {
    return this.store.get(id);
  }

  list(filter: ListFilter = {}): TaskRecord[] {
    return this.store.list(filter);
  }

  /** Calls `listener` after every committed change (tests and tools await states with it). */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Resolves when `predicate` holds, checked after every commit; rejects after `timeoutMs`. */
  waitUntil(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new ProvisiondError('EUNAVAILABLE', `condition not reached within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onChange(() => {
        if (!predicate()) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** Stops claiming; waits (up to `graceMs`) for attempts in flight to be recorded. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = null;
    if (this.#inFlight > 0 || this.#writes.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#settledWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Attempts still in flight stay "running" in the database: the next start re-sends them.
    this.#closed = true;
  }

  // ------------------------------------------------------------------ group commit

  #write<T>(run: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new ProvisiondError('EUNAVAILABLE', 'provisiond is stopping'));
    if (this.#fatal !== null)
      return Promise.reject(new ProvisiondError('EUNAVAILABLE', 'the task database failed; provisiond must restart'));
    return new Promise<T>((resolve, reject) => {
      this.#writes.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#fatal !== null) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const writes = this.#writes;
    this.#writes = [];
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    let claimed: ClaimedTask[] = [];
    let nextDueAt: number | null = null;
    const claiming = this.#started && !this.#stopping;
    try {
      this.#db
        .transaction(() => {
          for (const write of writes) {
            try {
              // A savepoint per write: one refused submit (conflict) undoes only itself.
              results.push({ ok: true, value: this.#db.transaction(() => write.run())() });
            } catch (error) {
              results.push({ ok: false, error });
            }
          }
          if (claiming) {
            const limit = this.#concurrency - this.#inFlight;
            ({ claimed, nextDueAt } =
              limit > 0 ? this.store.claim(this.#clock.now(), limit) : { claimed: [], nextDueAt: null });
          }
        })
        .immediate();
    } catch (error) {
      this.#fatal = error;
      for (const write of writes)
        write.reject(
          new ProvisiondError(
            'EUNAVAILABLE',
            'the task database failed; provisiond must restart',
            {},
            { cause: error },
          ),
        );
      this.#onFatal(error);
      return;
    }
    writes.forEach((write, index) => {
      const result = results[index];
      if (result?.ok) write.resolve(result.value);
      else write.reject(result?.error);
    });
    for (const task of claimed) this.#send(task);
    if (claiming && this.#inFlight < this.#concurrency) this.#armWake(nextDueAt);
    for (const listener of [...this.#changeListeners]) listener();
    if (this.#inFlight === 0 && this.#writes.length === 0)
      for (const waiter of this.#settledWaiters.splice(0)) waiter();
  }

  #armWake(at: number | null): void {
    if (at === null) return;
    if (this.#wakeAt !== null && this.#wakeAt <= at && this.#wakeTimer) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeTimer = null;
        this.#wakeAt = null;
        this.#scheduleFlush();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  // ------------------------------------------------------------------ attempts

  #send(claimed: ClaimedTask): void {
    this.#inFlight++;
    let outcome: Promise<HandlerOutcome>;
    try {
      outcome = this.#handler(claimed.task, claimed.attempt);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome
      .catch(
        (error: unknown): HandlerOutcome => ({
          kind: 'retry',
          status: null,
          unreachable: false,
          error: { code: 'EINTERNAL', message: asProvisiondError(error).message },
        }),
      )
      .then((result) => {
        this.#inFlight--;
        const completion = this.#completionOf(claimed, result);
        // Every retry is in the history; the log gets the first few and then every power of two,
        // so a networkd that is down for an hour does not flood it.
        const worthLogging = claimed.attempt <= 3 || (claimed.attempt & (claimed.attempt - 1)) === 0;
        if (completion.kind === 'retry' && worthLogging) {
          this.#log(
            `task ${claimed.task.id} (${claimed.task.type}) attempt ${claimed.attempt}: ${completion.error.message}; retry in ${completion.retryInMs} ms`,
          );
        } else if (completion.kind === 'failed') {
          this.#log(
            `task ${claimed.task.id} (${claimed.task.type}) failed after ${claimed.attempt} attempt(s): ${completion.error.message}`,
          );
        }
        return this.#write(() => this.store.complete(claimed.seq, claimed.attempt, completion, this.#clock.now()));
      })
      .catch(() => {
        // The commit failed: #flush already reported it as fatal.
      });
  }

  #completionOf(claimed: ClaimedTask, outcome: HandlerOutcome): Completion {
    if (outcome.kind !== 'retry') return outcome;
    if (!outcome.unreachable && claimed.attempt >= this.#maxAttempts) {
      return {
        kind: 'failed',
        status: outcome.status,
        error: { ...outcome.error, message: `gave up after ${claimed.attempt} attempts: ${outcome.error.message}` },
      };
    }
    const retryInMs = retryDelayMs(claimed.attempt, this.#backoff, this.#random);
    return { kind: 'retry', status: outcome.status, error: outcome.error, retryInMs };
  }
}
