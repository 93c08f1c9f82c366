/**
 * How tasks look outside the database (API answers, `zmesh task list/show`): ISO times,
 * durations, the attempt history. Only what the task store holds, which is never a secret.
 */
import type { AttemptRecord, TaskRecord, TaskStore } from './task-store.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface TaskSummaryView {
  readonly id: string;
  readonly type: string;
  readonly network: string;
  readonly state: string;
  readonly attempts: number;
  readonly source: string;
  readonly createdAt: string;
  readonly firstStartedAt: string | null;
  readonly finishedAt: string | null;
  readonly nextAttemptAt: string | null;
  /** From submission to the final state. */
  readonly durationMs: number | null;
  readonly result: unknown;
  readonly error: unknown;
}

export function summaryView(record: TaskRecord): TaskSummaryView {
  return {
    id: record.id,
    type: record.type,
    network: record.network,
    state: record.state,
    attempts: record.attempts,
    source: record.source,
    createdAt: iso(record.createdAt) as string,
    firstStartedAt: iso(record.firstStartedAt),
    finishedAt: iso(record.finishedAt),
    nextAttemptAt: record.state === 'pending' && record.attempts > 0 ? iso(record.nextAttemptAt) : null,
    durationMs: record.finishedAt === null ? null : record.finishedAt - record.createdAt,
    result: record.result,
    error: record.error,
  };
}

export function attemptView(attempt: AttemptRecord): object {
  return {
    attempt: attempt.attempt,
    startedAt: iso(attempt.startedAt),
    finishedAt: iso(attempt.finishedAt),
    durationMs: attempt.finishedAt === null ? null : attempt.finishedAt - attempt.startedAt,
    outcome: attempt.outcome,
    status: attempt.status,
    replayed: attempt.replayed,
    error: attempt.error,
    retryInMs: attempt.retryInMs,
  };
}

/** The whole story of one task: summary, the task as submitted, every attempt. */
export function detailView(store: TaskStore, record: TaskRecord): object {
  return {
    ...summaryView(record),
    task: store.body(record.seq) ?? null,
    history: store.attempts(record.seq).map(attemptView),
  };
}
