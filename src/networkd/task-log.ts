/**
 * Idempotency by task id (the X-Task-Id header; provisiond relies on it): the first request
 * with a task id does the work and its outcome is recorded; a repeat of the same request gets
 * the recorded outcome and nothing is done again, also after a networkd restart. A repeat that
 * arrives while the first is still running waits for it. A task id reused for another request
 * (method + path, or a body of another digest) is a 409 naming what differs. The caller claims
 * an id only with a whole, valid request in hand (the API reads the body first). Outcomes of
 * transient failures (5xx) are neither recorded nor handed to waiters: a waiter whose first
 * request failed so does the work itself. The record is bounded (oldest dropped first) and
 * persisted atomically.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-file.js';
import { conflict } from './errors.js';
import type { TaskId } from './requests.js';

export const DEFAULT_TASK_CAPACITY = 1024;

export interface TaskOutcome {
  readonly status: number;
  readonly body: unknown;
}

/** What a task id stands for: the request line and a digest of its body. */
export interface TaskRequest {
  /** "METHOD /path". */
  readonly request: string;
  /** SHA-256 (hex) of the request's body. */
  readonly digest: string;
}

interface Entry {
  readonly taskId: string;
  /** "METHOD /path" of the request that did the work. */
  readonly request: string;
  /** Its body's digest; absent in records written before digests were kept (then not compared). */
  readonly digest?: string;
  readonly outcome: TaskOutcome;
}

/** Why `request` is not the one recorded or running under `taskId`, or null when it is. */
function mismatch(
  taskId: string,
  held: { request: string; digest?: string },
  request: TaskRequest,
  state: string,
): string | null {
  if (held.request !== request.request) return `task ${taskId} ${state} ${held.request}, not ${request.request}`;
  if (held.digest !== undefined && held.digest !== request.digest) {
    return `task ${taskId} ${state} ${held.request} with a body of sha256 ${held.digest.slice(0, 16)}…, not this body (sha256 ${request.digest.slice(0, 16)}…)`;
  }
  return null;
}

export class TaskLog {
  readonly file: string;
  readonly capacity: number;
  readonly #entries = new Map<string, Entry>();
  readonly #running = new Map<string, TaskRequest & { done: Promise<TaskOutcome> }>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(file: string, capacity: number) {
    this.file = file;
    this.capacity = capacity;
  }

  /** Loads the record; an unreadable file starts an empty record (it only saves repeated work). */
  static open(file: string, capacity = DEFAULT_TASK_CAPACITY): TaskLog {
    const log = new TaskLog(file, capacity);
    if (existsSync(file)) {
      try {
        const value = JSON.parse(readFileSync(file, 'utf8')) as { entries?: Entry[] };
        for (const entry of value.entries ?? []) {
          if (
            typeof entry.taskId === 'string' &&
            typeof entry.request === 'string' &&
            typeof entry.outcome?.status === 'number'
          ) {
            log.#entries.set(entry.taskId, {
              ...entry,
              ...(typeof entry.digest === 'string' ? { digest: entry.digest } : { digest: undefined }),
            });
          }
        }
      } catch {
        // A corrupt record loses only deduplication of old tasks, never state.
      }
    }
    log.#trim();
    return log;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Runs `work` once per task id: returns the recorded or in-flight outcome for a repeat.
   * Without a task id, just runs `work`.
   */
  async run(
    taskId: TaskId | undefined,
    request: TaskRequest,
    work: () => Promise<TaskOutcome>,
  ): Promise<TaskOutcome & { replayed: boolean }> {
    if (taskId === undefined) return { ...(await work()), replayed: false };
    for (;;) {
      const done = this.#entries.get(taskId);
      if (done) {
        const why = mismatch(taskId, done, request, 'was used for');
        if (why !== null) throw conflict('X-Task-Id', why);
        return { ...done.outcome, replayed: true };
      }
      const running = this.#running.get(taskId);
      if (!running) break;
      const why = mismatch(taskId, running, request, 'is running as');
      if (why !== null) throw conflict('X-Task-Id', why);
      const outcome = await running.done.catch((): TaskOutcome => ({ status: 500, body: null }));
      if (outcome.status < 500) return { ...outcome, replayed: true };
      // The first attempt failed transiently: its failure is not this request's; try again.
    }
    const promise = work();
    this.#running.set(taskId, { ...request, done: promise });
    try {
      const outcome = await promise;
      if (outcome.status < 500)
        await this.#record({ taskId, request: request.request, digest: request.digest, outcome });
      return { ...outcome, replayed: false };
    } finally {
      this.#running.delete(taskId);
    }
  }

  async #record(entry: Entry): Promise<void> {
    this.#entries.set(entry.taskId, entry);
    this.#trim();
    const text = `${JSON.stringify({ version: 1, entries: [...this.#entries.values()] })}\n`;
    // Serialised: a later write must not be overtaken by an earlier one's rename.
    const write = this.#writes.then(() => writeFileAtomic(this.file, text));
    this.#writes = write.catch(() => undefined);
    await write;
  }

  #trim(): void {
    // Map iteration order is insertion order: the first keys are the oldest.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.capacity) break;
      this.#entries.delete(key);
    }
  }
}
