/**
 * Executes tasks against networkd's HTTP+JSON API on its UNIX socket, one request per attempt,
 * each carrying `X-Task-Id: <task id>`: if provisiond dies after networkd did the work but before
 * the result was recorded, the re-sent request gets networkd's recorded answer instead of doing
 * the work again.
 *
 * Classification of endings (handler.ts): 2xx done; 404 of a delete/detach done too (what the
 * task wants — the thing gone — holds; the answer is kept as the result); 408/429/5xx retry;
 * any other 4xx failed with networkd's own code and message; no answer at all (refused, socket
 * missing, reset, timeout) retry as unreachable. networkd's messages are already free of
 * secrets; provisiond adds only socket paths and errno codes.
 */
import { HttpClientError, UnixHttpClient, apiErrorOf } from '../http/client.js';
import type { HandlerOutcome, TaskHandler } from './handler.js';
import type { Task } from './task.js';
import type { TaskError } from './task-store.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
const MAX_MESSAGE_CHARS = 2000;
const MAX_RESULT_BYTES = 1024 * 1024;

export interface NetworkdHandlerOptions {
  readonly socketPath: string;
  readonly timeoutMs?: number;
  /** Connections kept open to networkd (the queue's concurrency). */
  readonly maxSockets?: number;
}

interface NetworkdRequest {
  readonly method: 'PUT' | 'DELETE' | 'POST';
  readonly path: string;
  readonly body?: unknown;
}

/** The networkd request that performs `task`. */
export function requestFor(task: Task): NetworkdRequest {
  const network = (name: string) => `/v1/networks/${encodeURIComponent(name)}`;
  switch (task.type) {
    case 'network.apply':
      return { method: 'PUT', path: network(task.definition.name), body: task.definition };
    case 'network.delete':
      return { method: 'DELETE', path: network(task.network) };
    case 'workload.attach': {
      const { workload, netns, ifname, ip } = task;
      return {
        method: 'POST',
        path: `${network(task.network)}/workloads`,
        body: ip === undefined ? { workload, netns, ifname } : { workload, netns, ifname, ip },
      };
    }
    case 'workload.detach':
      return { method: 'DELETE', path: `${network(task.network)}/workloads/${encodeURIComponent(task.workload)}` };
  }
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

/** networkd's `{ error: { code, message, field? } }`, or a description of what came instead. */
function errorOf(status: number, body: unknown): TaskError {
  const error = apiErrorOf(body);
  if (error !== null) {
    return {
      code: error.code ?? `HTTP${status}`,
      message: clip(error.message),
      ...(error.field === undefined ? {} : { field: clip(error.field) }),
      status,
    };
  }
  return { code: `HTTP${status}`, message: `networkd answered ${status} without an error message`, status };
}

export function classify(task: Task, status: number, body: unknown, replayed: boolean): HandlerOutcome {
  if (status >= 200 && status < 300) return { kind: 'succeeded', status, replayed, result: body };
  if (status === 404 && (task.type === 'network.delete' || task.type === 'workload.detach')) {
    return { kind: 'succeeded', status, replayed, result: { absent: true, networkd: errorOf(status, body) } };
  }
  if (status === 408 || status === 429 || status >= 500)
    return { kind: 'retry', status, error: errorOf(status, body), unreachable: false };
  return { kind: 'failed', status, error: errorOf(status, body) };
}

export class NetworkdHandler {
  readonly socketPath: string;
  readonly #http: UnixHttpClient;

  constructor(options: NetworkdHandlerOptions) {
    this.socketPath = options.socketPath;
    this.#http = new UnixHttpClient({
      socketPath: options.socketPath,
      timeoutMs: options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxAnswerBytes: MAX_RESULT_BYTES,
      maxSockets: options.maxSockets ?? 16,
    });
  }

  readonly handle: TaskHandler = (task) => this.#send(task);

  close(): void {
    this.#http.close();
  }

  async #send(task: Task): Promise<HandlerOutcome> {
    const request = requestFor(task);
    try {
      const answer = await this.#http.request(request.method, request.path, {
        headers: { 'x-task-id': task.id },
        ...(request.body === undefined ? {} : { body: request.body }),
      });
      // A body that is not JSON is kept as null: the status alone classifies it.
      return classify(task, answer.status, answer.body ?? null, answer.headers['x-task-replayed'] === 'true');
    } catch (error) {
      if (!(error instanceof HttpClientError)) throw error;
      // An answer past the bound still has its status; its body is not kept.
      if (error.code === 'ETOOLARGE' && error.context.status !== undefined)
        return classify(task, error.context.status, null, false);
      const why = error.code === 'EUNREACHABLE' ? (error.context.errno ?? 'error') : error.code;
      return {
        kind: 'retry',
        status: null,
        unreachable: true,
        error: { code: 'EUNREACHABLE', message: `networkd did not answer at ${this.socketPath}: ${why}` },
      };
    }
  }
}
