/**
 * The seam between the queue and whatever executes a task (networkd over HTTP in production; a
 * no-op for the queue's own benchmark). A handler never throws: it classifies every ending as
 * done, permanently failed (not retried: the same request would fail the same way) or worth a
 * retry. `unreachable` marks a retry because nobody answered (networkd down or restarting):
 * those are retried for ever; a retry after an answer (5xx) is bounded by the queue.
 */
import type { Task } from './task.js';
import type { TaskError } from './task-store.js';

export type HandlerOutcome =
  | { readonly kind: 'succeeded'; readonly status: number | null; readonly replayed: boolean; readonly result: unknown }
  | { readonly kind: 'failed'; readonly status: number | null; readonly error: TaskError }
  | {
      readonly kind: 'retry';
      readonly status: number | null;
      readonly error: TaskError;
      readonly unreachable: boolean;
    };

export type TaskHandler = (task: Task, attempt: number) => Promise<HandlerOutcome>;

/** Succeeds at once: measures the queue alone. */
export const noopHandler: TaskHandler = async () => ({
  kind: 'succeeded',
  status: null,
  replayed: false,
  result: null,
});
