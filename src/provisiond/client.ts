/**
 * A client of provisiond's local API (the tool's `zmesh task ...` commands and the tests): one
 * HTTP request per call over the UNIX socket (src/http/client.ts). An error answer becomes a
 * ProvisiondError with the daemon's code, message and field; no answer at all is EUNAVAILABLE
 * naming the socket.
 */
import { HttpClientError, UnixHttpClient, apiErrorOf, type HttpAnswer } from '../http/client.js';
import { ProvisiondError, type ProvisiondErrorCode } from './errors.js';
import type { TaskState } from './task-store.js';
import type { TaskSummaryView } from './views.js';

export const DEFAULT_SOCKET = '/run/zmesh/provisiond.sock';

export interface SubmittedTask extends TaskSummaryView {
  readonly created: boolean;
}

export class ProvisiondClient {
  readonly #http: UnixHttpClient;

  constructor(
    readonly socketPath: string = DEFAULT_SOCKET,
    readonly timeoutMs = 60_000,
  ) {
    this.#http = new UnixHttpClient({ socketPath, timeoutMs });
  }

  /** Submits a task or an array of tasks (already-parsed JSON, validated by the daemon). */
  async submit(body: unknown): Promise<SubmittedTask[]> {
    return ((await this.#call('POST', '/v1/tasks', body)) as { tasks: SubmittedTask[] }).tasks;
  }

  async list(
    filter: { network?: string; state?: TaskState | string; limit?: number; after?: number } = {},
  ): Promise<TaskSummaryView[]> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    const text = query.toString();
    return ((await this.#call('GET', `/v1/tasks${text ? `?${text}` : ''}`)) as { tasks: TaskSummaryView[] }).tasks;
  }

  async show(id: string): Promise<TaskSummaryView & { task: unknown; history: object[] }> {
    return (await this.#call('GET', `/v1/tasks/${encodeURIComponent(id)}`)) as TaskSummaryView & {
      task: unknown;
      history: object[];
    };
  }

  async cancel(id: string): Promise<TaskSummaryView> {
    return (await this.#call('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`)) as TaskSummaryView;
  }

  async health(): Promise<{ ok: boolean; pid: number; tasks: Record<TaskState, number>; inFlight: number }> {
    return (await this.#call('GET', '/v1/health')) as {
      ok: boolean;
      pid: number;
      tasks: Record<TaskState, number>;
      inFlight: number;
    };
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    let answer: HttpAnswer;
    try {
      answer = await this.#http.request(method, path, body === undefined ? {} : { body });
    } catch (error) {
      if (!(error instanceof HttpClientError)) throw error;
      const why = error.code === 'ETOOLARGE' ? 'answer too large' : (error.context.errno ?? error.code);
      throw new ProvisiondError('EUNAVAILABLE', `provisiond is not answering at ${this.socketPath}: ${why}`, {
        field: '--socket',
      });
    }
    if (answer.body === undefined || answer.body === null) {
      throw new ProvisiondError(
        'EUNAVAILABLE',
        `provisiond at ${this.socketPath} answered ${answer.status} without JSON`,
      );
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const error = apiErrorOf(answer.body);
    const { task, issues } = (error?.details ?? {}) as { task?: string; issues?: { path: string; message: string }[] };
    throw new ProvisiondError(
      (error?.code as ProvisiondErrorCode | undefined) ?? 'EINTERNAL',
      error?.message ?? `provisiond answered ${answer.status}`,
      {
        ...(error?.field === undefined ? {} : { field: error.field }),
        ...(task === undefined ? {} : { task }),
        ...(issues === undefined ? {} : { issues }),
      },
    );
  }
}
