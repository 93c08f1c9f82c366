/**
 * A client of provisiond's local API (the tool's `zmesh task ...` commands and the tests): one
 * HTTP request per call over the UNIX socket. An error answer becomes a ProvisiondError with the
 * daemon's code, message and field; no answer at all is EUNAVAILABLE naming the socket.
 */
import http from 'node:http';
import { ProvisiondError, type ProvisiondErrorCode } from './errors.js';
import type { TaskState } from './task-store.js';
import type { TaskSummaryView } from './views.js';

export const DEFAULT_SOCKET = '/run/zmesh/provisiond.sock';

export interface SubmittedTask extends TaskSummaryView {
  readonly created: boolean;
}

export class ProvisiondClient {
  constructor(readonly socketPath: string = DEFAULT_SOCKET, readonly timeoutMs = 60_000) {}

  /** Submits a task or an array of tasks (already-parsed JSON, validated by the daemon). */
  async submit(body: unknown): Promise<SubmittedTask[]> {
    return ((await this.#call('POST', '/v1/tasks', body)) as { tasks: SubmittedTask[] }).tasks;
  }

  async list(filter: { network?: string; state?: TaskState | string; limit?: number; after?: number } = {}): Promise<TaskSummaryView[]> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    const text = query.toString();
    return ((await this.#call('GET', `/v1/tasks${text ? `?${text}` : ''}`)) as { tasks: TaskSummaryView[] }).tasks;
  }

  async show(id: string): Promise<TaskSummaryView & { task: unknown; history: object[] }> {
    return (await this.#call('GET', `/v1/tasks/${encodeURIComponent(id)}`)) as TaskSummaryView & { task: unknown; history: object[] };
  }

  async cancel(id: string): Promise<TaskSummaryView> {
    return (await this.#call('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`)) as TaskSummaryView;
  }

  async health(): Promise<{ ok: boolean; pid: number; tasks: Record<TaskState, number>; inFlight: number }> {
    return (await this.#call('GET', '/v1/health')) as { ok: boolean; pid: number; tasks: Record<TaskState, number>; inFlight: number };
  }

  #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              reject(new ProvisiondError('EUNAVAILABLE', `provisiond at ${this.socketPath} answered ${res.statusCode} without JSON`));
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(parsed);
              return;
            }
            const error = (parsed as { error?: { code?: string; message?: string; field?: string; task?: string; issues?: { path: string; message: string }[] } }).error ?? {};
            reject(
              new ProvisiondError((error.code as ProvisiondErrorCode | undefined) ?? 'EINTERNAL', error.message ?? `provisiond answered ${status}`, {
                ...(error.field === undefined ? {} : { field: error.field }),
                ...(error.task === undefined ? {} : { task: error.task }),
                ...(error.issues === undefined ? {} : { issues: error.issues }),
              }),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) =>
        reject(new ProvisiondError('EUNAVAILABLE', `provisiond is not answering at ${this.socketPath}: ${error.code ?? error.message}`, { field: '--socket' })),
      );
      req.end(payload);
    });
  }
}
