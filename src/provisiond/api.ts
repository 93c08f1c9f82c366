/**
 * provisiond's local API: HTTP+JSON on a root-only UNIX socket (the server, its socket file,
 * routing and body limits are src/http/, shared with networkd). The tool's `zmesh task ...`
 * commands speak it.
 *
 *   GET  /v1/health
 *   POST /v1/tasks                     body: a task or an array of tasks (all or nothing)
 *   GET  /v1/tasks?network=N&state=S&limit=L&after=SEQ
 *   GET  /v1/tasks/{id}                summary, the task as submitted, every attempt
 *   POST /v1/tasks/{id}/cancel
 *
 * Errors are `{ error: { code, message, field?, task?, issues? } }` with the status of the code.
 */
import type http from 'node:http';
import { JsonTextError, parseStrictJson } from '../common/json-text.js';
import { findRoute, JsonApiServer, sendJson } from '../http/json-api-server.js';
import { readBodyText } from '../http/request-body.js';
import { ProvisiondError, asProvisiondError, invalid } from './errors.js';
import type { TaskQueue } from './queue.js';
import { parseTasks } from './task.js';
import { TASK_STATES, type TaskState } from './task-store.js';
import { detailView, summaryView } from './views.js';

/** A batch of a few thousand tasks with definitions fits; more is refused before it is read. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
export const MAX_LIST_LIMIT = 100_000;

type Answer = { status: number; body: object };
type Handler = (params: string[], url: URL, body: () => Promise<unknown>) => Promise<Answer>;

/** JSON text to a value, or EINVAL naming `field` (a truncated document says so). */
export function parseJsonText(text: string, field: string): unknown {
  if (text.trim() === '') throw invalid(field, 'is empty (expected a JSON task or array of tasks)');
  try {
    return parseStrictJson(text);
  } catch (error) {
    if (error instanceof JsonTextError) throw invalid(`${field}#${error.path || '/'}`, error.reason);
    // A parse error at the very end of the text means the document stops early (a writer died).
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const truncated =
      /Unexpected end of JSON input|Unterminated/.test(message) ||
      (position !== null && Number(position[1]) >= text.trimEnd().length);
    throw invalid(field, `${truncated ? 'truncated JSON (the document ends early)' : 'not valid JSON'}: ${message}`);
  }
}

function parseListQuery(url: URL): { network?: string; state?: TaskState; limit: number; after?: number } {
  const query: { network?: string; state?: TaskState; limit: number; after?: number } = { limit: 1000 };
  for (const key of url.searchParams.keys())
    if (!['network', 'state', 'limit', 'after'].includes(key))
      throw invalid(key, 'unknown query parameter (expected network, state, limit, after)');
  const network = url.searchParams.get('network');
  if (network !== null) query.network = network;
  const state = url.searchParams.get('state');
  if (state !== null) {
    if (!(TASK_STATES as readonly string[]).includes(state))
      throw invalid('state', `${JSON.stringify(state.slice(0, 40))} is not a state (${TASK_STATES.join(', ')})`);
    query.state = state as TaskState;
  }
  for (const key of ['limit', 'after'] as const) {
    const text = url.searchParams.get(key);
    if (text === null) continue;
    const value = Number(text);
    if (!/^[0-9]{1,15}$/.test(text) || (key === 'limit' && (value < 1 || value > MAX_LIST_LIMIT)))
      throw invalid(key, key === 'limit' ? `must be an integer 1-${MAX_LIST_LIMIT}` : 'must be a non-negative integer');
    query[key] = value;
  }
  return query;
}

export interface ApiOptions {
  readonly queue: TaskQueue;
  readonly health?: () => object;
  readonly log?: (message: string) => void;
}

export class Api {
  readonly #server: JsonApiServer;
  readonly #routes: { method: string; pattern: RegExp; handler: Handler }[];
  readonly #log: (message: string) => void;

  constructor(options: ApiOptions) {
    const { queue } = options;
    this.#log = options.log ?? (() => {});
    const task = (params: string[]) => {
      let id: string;
      try {
        id = decodeURIComponent(params[0] ?? '');
      } catch {
        throw invalid(
          'task',
          `malformed percent-encoding in the path segment ${JSON.stringify((params[0] ?? '').slice(0, 64))}`,
        );
      }
      const record = queue.get(id);
      if (!record)
        throw new ProvisiondError('ENOENT', `no task ${JSON.stringify(id.slice(0, 128))}`, { task: id.slice(0, 128) });
      return record;
    };
    this.#routes = [
      {
        method: 'GET',
        pattern: /^\/v1\/health$/,
        handler: async () => ({
          status: 200,
          body: {
            ok: true,
            pid: process.pid,
            tasks: queue.store.counts(),
            inFlight: queue.inFlight,
            ...(options.health?.() ?? {}),
          },
        }),
      },
      {
        method: 'POST',
        pattern: /^\/v1\/tasks$/,
        handler: async (_p, _u, body) => {
          const tasks = parseTasks(await body());
          const results = await queue.submit(tasks, 'api');
          return {
            status: results.some((r) => r.created) ? 201 : 200,
            body: { tasks: results.map((r) => ({ ...summaryView(r.task), created: r.created })) },
          };
        },
      },
      {
        method: 'GET',
        pattern: /^\/v1\/tasks$/,
        handler: async (_p, url) => ({
          status: 200,
          body: { tasks: queue.list(parseListQuery(url)).map(summaryView) },
        }),
      },
      {
        method: 'GET',
        pattern: /^\/v1\/tasks\/([^/]+)$/,
        handler: async (p) => ({ status: 200, body: detailView(queue.store, task(p)) }),
      },
      {
        method: 'POST',
        pattern: /^\/v1\/tasks\/([^/]+)\/cancel$/,
        handler: async (p) => ({ status: 200, body: summaryView(await queue.cancel(task(p).id)) }),
      },
    ];
    this.#server = new JsonApiServer((request, response) => this.#handle(request, response), ProvisiondError);
  }

  /** Listens on `socketPath` (root-only); ECONFLICT when a live provisiond serves it. */
  listen(socketPath: string): Promise<void> {
    return this.#server.listen(socketPath);
  }

  close(): Promise<void> {
    return this.#server.close();
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://provisiond');
    let answer: Answer;
    try {
      const { route, params } = findRoute(this.#routes, method, url.pathname, ProvisiondError);
      answer = await route.handler(params, url, () =>
        readBodyText(request, MAX_BODY_BYTES, ProvisiondError).then((text) => parseJsonText(text, 'body')),
      );
    } catch (error) {
      const e = asProvisiondError(error);
      if (e.code === 'EINTERNAL') this.#log(`${method} ${url.pathname}: ${e.message}`);
      answer = { status: e.status, body: e.toJSON() };
    }
    sendJson(request, response, answer.status, answer.body);
  }
}
