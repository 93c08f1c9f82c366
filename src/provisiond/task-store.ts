/**
 * The task table and its state machine, as synchronous SQL on the database (the queue decides
 * when to commit; several of these calls share one transaction). The states:
 *
 *   pending ──claim──► running (attempt n) ──► succeeded | failed
 *      ▲                   │ retry (backoff)
 *      └───────────────────┘            pending ──cancel──► cancelled
 *   running found at start (a crash) ──recover──► pending, re-sent with the same task id
 *
 * "running attempt n" is committed before the task is sent, so a crash at any point leaves a
 * state from which re-sending is right: networkd answers a repeated task id with its record.
 * Order: a network's tasks run in `seq` order; only the oldest unfinished task of a network
 * (its head) may be claimed, so a later task never overtakes an earlier one, retries included.
 */
import type { Db } from './database.js';
import { ProvisiondError } from './errors.js';
import { type Task, type TaskType, canonicalJson, fingerprintOf, networkOf } from './task.js';

export const TASK_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const FINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];

/** An error as recorded: networkd's code and message, or provisiond's own (never a secret). */
export interface TaskError {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly status?: number;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'retry' | 'interrupted';

export interface AttemptRecord {
  readonly attempt: number;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly outcome: AttemptOutcome | null;
  readonly status: number | null;
  readonly replayed: boolean;
  readonly error: TaskError | null;
  readonly retryInMs: number | null;
}

export interface TaskRecord {
  readonly seq: number;
  readonly id: string;
  readonly type: TaskType;
  readonly network: string;
  readonly state: TaskState;
  readonly attempts: number;
  readonly source: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly firstStartedAt: number | null;
  readonly finishedAt: number | null;
  readonly nextAttemptAt: number;
  readonly result: unknown;
  readonly error: TaskError | null;
}

/** A task taken for sending: its body and the attempt number now recorded as running. */
export interface ClaimedTask {
  readonly seq: number;
  readonly task: Task;
  readonly attempt: number;
}

/** How an attempt ended, as the queue records it. */
export type Completion =
  | { readonly kind: 'succeeded'; readonly status: number | null; readonly replayed: boolean; readonly result: unknown }
  | { readonly kind: 'failed'; readonly status: number | null; readonly error: TaskError }
  | { readonly kind: 'retry'; readonly status: number | null; readonly error: TaskError; readonly retryInMs: number };

export interface ListFilter {
  readonly network?: string;
  readonly state?: TaskState;
  readonly limit?: number;
  /** Only tasks with seq greater than this (paging). */
  readonly after?: number;
}

interface TaskRow {
  seq: number;
  id: string;
  type: TaskType;
  network: string;
  state: TaskState;
  attempts: number;
  source: string;
  created_at: number;
  updated_at: number;
  first_started_at: number | null;
  finished_at: number | null;
  next_attempt_at: number;
  result: string | null;
  error: string | null;
}

interface AttemptRow {
  attempt: number;
  started_at: number;
  finished_at: number | null;
  outcome: AttemptOutcome | null;
  status: number | null;
  replayed: number;
  error: string | null;
  retry_in_ms: number | null;
}

const RECORD_COLUMNS =
  'seq, id, type, network, state, attempts, source, created_at, updated_at, first_started_at, finished_at, next_attempt_at, result, error';

function toRecord(row: TaskRow): TaskRecord {
  return {
    seq: row.seq,
    id: row.id,
    type: row.type,
    network: row.network,
    state: row.state,
    attempts: row.attempts,
    source: row.source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    firstStartedAt: row.first_started_at,
    finishedAt: row.finished_at,
    nextAttemptAt: row.next_attempt_at,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error === null ? null : (JSON.parse(row.error) as TaskError),
  };
}

export interface HeadsScan {
  /** Heads that are pending and due, oldest first. */
  readonly due: { seq: number; attempts: number }[];
  /** The earliest time a pending head becomes due (a retry waiting out its backoff), or null. */
  readonly nextDueAt: number | null;
}

export class TaskStore {
  readonly db: Db;
  readonly #statements;

  constructor(db: Db) {
    this.db = db;
    this.#statements = {
      byId: db.prepare<[string], TaskRow>(`SELECT ${RECORD_COLUMNS} FROM tasks WHERE id = ?`),
      identity: db.prepare<[string], { fingerprint: string }>('SELECT fingerprint FROM tasks WHERE id = ?'),
      insert: db.prepare(
        `INSERT INTO tasks (id, type, network, body, fingerprint, state, attempts, created_at, updated_at, next_attempt_at, source)
         VALUES (@id, @type, @network, @body, @fingerprint, 'pending', 0, @now, @now, @now, @source)`,
      ),
      heads: db.prepare<[], { seq: number; state: TaskState; attempts: number; next_attempt_at: number }>(
        `SELECT t.seq, t.state, t.attempts, t.next_attempt_at
           FROM (SELECT MIN(seq) AS seq FROM tasks WHERE state IN ('pending', 'running') GROUP BY network) h
           JOIN tasks t ON t.seq = h.seq
          ORDER BY t.seq`,
      ),
      body: db.prepare<[number], { body: string }>('SELECT body FROM tasks WHERE seq = ?'),
      markRunning: db.prepare(
        `UPDATE tasks SET state = 'running', attempts = @attempt, updated_at = @now, first_started_at = COALESCE(first_started_at, @now)
          WHERE seq = @seq AND state = 'pending'`,
      ),
      insertAttempt: db.prepare('INSERT INTO attempts (task_seq, attempt, started_at) VALUES (@seq, @attempt, @now)'),
      finishAttempt: db.prepare(
        `UPDATE attempts SET finished_at = @now, outcome = @outcome, status = @status, replayed = @replayed, error = @error, retry_in_ms = @retryInMs
          WHERE task_seq = @seq AND attempt = @attempt AND finished_at IS NULL`,
      ),
      finish: db.prepare(
        `UPDATE tasks SET state = @state, updated_at = @now, finished_at = @now, result = @result, error = @error
          WHERE seq = @seq AND state = 'running' AND attempts = @attempt`,
      ),
      retry: db.prepare(
        `UPDATE tasks SET state = 'pending', updated_at = @now, next_attempt_at = @nextAttemptAt, error = @error
          WHERE seq = @seq AND state = 'running' AND attempts = @attempt`,
      ),
      recoverAttempts: db.prepare(
        `UPDATE attempts SET finished_at = @now, outcome = 'interrupted'
          WHERE finished_at IS NULL AND task_seq IN (SELECT seq FROM tasks WHERE state = 'running')`,
      ),
      recoverTasks: db.prepare(
        "UPDATE tasks SET state = 'pending', updated_at = @now, next_attempt_at = @now WHERE state = 'running'",
      ),
      cancel: db.prepare(
        "UPDATE tasks SET state = 'cancelled', updated_at = @now, finished_at = @now WHERE id = @id AND state = 'pending'",
      ),
      attempts: db.prepare<[number], AttemptRow>(
        'SELECT attempt, started_at, finished_at, outcome, status, replayed, error, retry_in_ms FROM attempts WHERE task_seq = ? ORDER BY attempt',
      ),
      counts: db.prepare<[], { state: TaskState; n: number }>('SELECT state, COUNT(*) AS n FROM tasks GROUP BY state'),
    };
  }

  /**
   * Stores a new pending task, or returns the existing one with the same id and body. The same
   * id with another body is ECONFLICT and changes nothing.
   */
  insert(task: Task, source: string, now: number): { record: TaskRecord; created: boolean } {
    const body = canonicalJson(task);
    const fingerprint = fingerprintOf(body);
    const existing = this.#statements.identity.get(task.id);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw new ProvisiondError(
          'ECONFLICT',
          `/id: task ${JSON.stringify(task.id)} was submitted before with a different body (a task id names one task for ever; use a new id)`,
          {
            field: '/id',
            task: task.id,
          },
        );
      }
      return { record: this.mustGet(task.id), created: false };
    }
    this.#statements.insert.run({
      id: task.id,
      type: task.type,
      network: networkOf(task),
      body,
      fingerprint,
      now,
      source,
    });
    return { record: this.mustGet(task.id), created: true };
  }

  /** The heads of all networks with unfinished tasks (see the module comment). */
  scanHeads(now: number): HeadsScan {
    const due: { seq: number; attempts: number }[] = [];
    let nextDueAt: number | null = null;
    for (const head of this.#statements.heads.all()) {
      if (head.state !== 'pending') continue;
      if (head.next_attempt_at <= now) due.push({ seq: head.seq, attempts: head.attempts });
      else if (nextDueAt === null || head.next_attempt_at < nextDueAt) nextDueAt = head.next_attempt_at;
    }
    return { due, nextDueAt };
  }

  /** Marks up to `limit` due heads running (attempt n+1, recorded) and returns them. */
  claim(now: number, limit: number): { claimed: ClaimedTask[]; nextDueAt: number | null } {
    const { due, nextDueAt } = this.scanHeads(now);
    const claimed: ClaimedTask[] = [];
    for (const head of due.slice(0, Math.max(0, limit))) {
      const attempt = head.attempts + 1;
      this.#statements.markRunning.run({ seq: head.seq, attempt, now });
      this.#statements.insertAttempt.run({ seq: head.seq, attempt, now });
      const row = this.#statements.body.get(head.seq);
      if (!row) continue;
      claimed.push({ seq: head.seq, task: JSON.parse(row.body) as Task, attempt });
    }
    return { claimed, nextDueAt: due.length > claimed.length ? now : nextDueAt };
  }

  /** Records how attempt `attempt` of task `seq` ended. */
  complete(seq: number, attempt: number, completion: Completion, now: number): void {
    const error = completion.kind === 'succeeded' ? null : JSON.stringify(completion.error);
    this.#statements.finishAttempt.run({
      seq,
      attempt,
      now,
      outcome: completion.kind,
      status: completion.status,
      replayed: completion.kind === 'succeeded' && completion.replayed ? 1 : 0,
      error,
      retryInMs: completion.kind === 'retry' ? completion.retryInMs : null,
    });
    if (completion.kind === 'retry') {
      this.#statements.retry.run({ seq, attempt, now, nextAttemptAt: now + completion.retryInMs, error });
      return;
    }
    this.#statements.finish.run({
      seq,
      attempt,
      now,
      state: completion.kind,
      result: completion.kind === 'succeeded' ? JSON.stringify(completion.result ?? null) : null,
      error,
    });
  }

  /** After a crash: running tasks go back to pending (due now), their open attempts marked interrupted. */
  recover(now: number): number {
    this.#statements.recoverAttempts.run({ now });
    return this.#statements.recoverTasks.run({ now }).changes;
  }

  /** Cancels a pending task; a cancelled one is returned as it is; others are ESTATE. */
  cancel(id: string, now: number): TaskRecord {
    const record = this.get(id);
    if (!record) throw new ProvisiondError('ENOENT', `no task ${JSON.stringify(id)}`, { task: id });
    if (record.state === 'cancelled') return record;
    if (record.state !== 'pending') {
      const why =
        record.state === 'running'
          ? `it is running (attempt ${record.attempts}); it will finish or be retried`
          : `it has already ${record.state}`;
      throw new ProvisiondError('ESTATE', `task ${JSON.stringify(id)} cannot be cancelled: ${why}`, { task: id });
    }
    this.#statements.cancel.run({ id, now });
    return this.mustGet(id);
  }

  get(id: string): TaskRecord | undefined {
    const row = this.#statements.byId.get(id);
    return row ? toRecord(row) : undefined;
  }

  mustGet(id: string): TaskRecord {
    const record = this.get(id);
    if (!record) throw new ProvisiondError('ENOENT', `no task ${JSON.stringify(id)}`, { task: id });
    return record;
  }

  /** The stored body of a task (canonical JSON parsed back). */
  body(seq: number): Task | undefined {
    const row = this.#statements.body.get(seq);
    return row ? (JSON.parse(row.body) as Task) : undefined;
  }

  attempts(seq: number): AttemptRecord[] {
    return this.#statements.attempts.all(seq).map((row) => ({
      attempt: row.attempt,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      outcome: row.outcome,
      status: row.status,
      replayed: row.replayed === 1,
      error: row.error === null ? null : (JSON.parse(row.error) as TaskError),
      retryInMs: row.retry_in_ms,
    }));
  }

  list(filter: ListFilter = {}): TaskRecord[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.network !== undefined) {
      where.push('network = @network');
      params.network = filter.network;
    }
    if (filter.state !== undefined) {
      where.push('state = @state');
      params.state = filter.state;
    }
    if (filter.after !== undefined) {
      where.push('seq > @after');
      params.after = filter.after;
    }
    params.limit = filter.limit ?? 1000;
    const sql = `SELECT ${RECORD_COLUMNS} FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT @limit`;
    return this.db.prepare<[Record<string, unknown>], TaskRow>(sql).all(params).map(toRecord);
  }

  /** Number of tasks in each state. */
  counts(): Record<TaskState, number> {
    const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    for (const row of this.#statements.counts.all()) counts[row.state] = row.n;
    return counts;
  }
}
