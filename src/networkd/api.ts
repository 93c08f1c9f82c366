/**
 * networkd's HTTP+JSON API on a root-only UNIX socket (the server, its socket file, routing and
 * body limits are src/http/, shared with provisiond).
 *
 *   GET    /v1/health
 *   GET    /v1/networks                       GET /v1/networks/{name}
 *   PUT    /v1/networks/{name}                 body: a network definition
 *   DELETE /v1/networks/{name}
 *   POST   /v1/networks/{name}/workloads       body: { workload, netns, ifname, ip? }
 *   DELETE /v1/networks/{name}/workloads/{workload}
 *   POST   /v1/networks/{name}/workloads/gc    body: { keep: [workload, ...] } (CNI workloads)
 *
 * Owns routing, body limits, JSON in and out, the mapping of errors to statuses
 * (`{ error: { code, message, field?, issues? } }`) and X-Task-Id idempotency of changes.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { JsonTextError, parseStrictJson } from '../common/json-text.js';
import { findRoute, JsonApiServer, sendJson } from '../http/json-api-server.js';
import { readBodyText } from '../http/request-body.js';
import { NetworkdError, asNetworkdError, invalid } from './errors.js';
import { parseAttachRequest, parseGcRequest, parseNetworkName, parseTaskId } from './requests.js';
import type { NetworkService } from './service.js';
import type { TaskLog, TaskOutcome } from './task-log.js';
import type { HealthView } from './views.js';

/** A whole definition of thousands of NRs fits; more is refused before it is read. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface ApiOptions {
  readonly service: NetworkService;
  readonly tasks: TaskLog;
  readonly health: () => HealthView;
  readonly log?: (message: string) => void;
}

/** A route's work, given its path captures and (for routes with a body) the parsed JSON body. */
type Handler = (params: string[], body: unknown) => Promise<object>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** A change: X-Task-Id applies. */
  readonly change: boolean;
  /** Takes a JSON body, read whole and parsed before anything else happens. */
  readonly body: boolean;
  readonly handler: Handler;
}

/** The body as JSON; EINVAL naming `body` when it is empty or not JSON. */
function parseBody(text: string): unknown {
  if (text.trim() === '') throw invalid('body', 'is empty (expected JSON)');
  try {
    return parseStrictJson(text);
  } catch (error) {
    if (error instanceof JsonTextError) throw invalid(`body#${error.path || '/'}`, error.reason);
    throw invalid('body', `not valid JSON: ${(error as Error).message}`);
  }
}

/** A path segment, percent-decoded; EINVAL naming `field` when its encoding is malformed. */
function decodePathSegment(segment: string, field: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid(field, `malformed percent-encoding in the path segment ${JSON.stringify(segment.slice(0, 64))}`);
  }
}

/** SHA-256 of the request's JSON body as parsed (whitespace aside, what was sent); of nothing without one. */
function requestDigest(body: unknown): string {
  return createHash('sha256')
    .update(body === undefined ? '' : JSON.stringify(body))
    .digest('hex');
}

export class Api {
  readonly #server: JsonApiServer;
  readonly #routes: Route[];
  readonly #tasks: TaskLog;
  readonly #log: (message: string) => void;

  constructor(options: ApiOptions) {
    const { service } = options;
    this.#tasks = options.tasks;
    this.#log = options.log ?? (() => {});
    const name = (params: string[]) => parseNetworkName(decodePathSegment(params[0] ?? '', 'name'));
    this.#routes = [
      { method: 'GET', pattern: /^\/v1\/health$/, change: false, body: false, handler: async () => options.health() },
      {
        method: 'GET',
        pattern: /^\/v1\/networks$/,
        change: false,
        body: false,
        handler: async () => ({ networks: await service.listNetworks() }),
      },
      {
        method: 'GET',
        pattern: /^\/v1\/networks\/([^/]+)$/,
        change: false,
        body: false,
        handler: async (p) => service.getNetwork(name(p)),
      },
      {
        method: 'PUT',
        pattern: /^\/v1\/networks\/([^/]+)$/,
        change: true,
        body: true,
        handler: async (p, body) => service.applyNetwork(name(p), body),
      },
      {
        method: 'DELETE',
        pattern: /^\/v1\/networks\/([^/]+)$/,
        change: true,
        body: false,
        handler: async (p) => service.deleteNetwork(name(p)),
      },
      {
        method: 'POST',
        pattern: /^\/v1\/networks\/([^/]+)\/workloads$/,
        change: true,
        body: true,
        handler: async (p, body) => service.attachWorkload(name(p), parseAttachRequest(body)),
      },
      {
        method: 'POST',
        pattern: /^\/v1\/networks\/([^/]+)\/workloads\/gc$/,
        change: true,
        body: true,
        handler: async (p, body) => service.gcWorkloads(name(p), parseGcRequest(body)),
      },
      {
        method: 'DELETE',
        pattern: /^\/v1\/networks\/([^/]+)\/workloads\/([^/]+)$/,
        change: true,
        body: false,
        handler: async (p) => service.detachWorkload(name(p), decodePathSegment(p[1] ?? '', 'workload')),
      },
    ];
    this.#server = new JsonApiServer((request, response) => this.#handle(request, response), NetworkdError);
  }

  /** Listens on `socketPath` (root-only); ECONFLICT when a live networkd serves it. */
  listen(socketPath: string): Promise<void> {
    return this.#server.listen(socketPath);
  }

  /** Stops accepting and cuts idle connections; removes the socket file if it is still ours. */
  close(): Promise<void> {
    return this.#server.close();
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    let outcome: TaskOutcome;
    let replayed = false;
    try {
      const { route, params } = findRoute(this.#routes, method, path, NetworkdError);
      const taskId = route.change ? parseTaskId(request.headers['x-task-id']) : undefined;
      // The whole body, parsed, before a task id is claimed: a request cut short or malformed
      // answers for itself and never holds (or poisons) its task id.
      const body = route.body ? parseBody(await readBodyText(request, MAX_BODY_BYTES, NetworkdError)) : undefined;
      const work = async (): Promise<TaskOutcome> => {
        try {
          return { status: 200, body: await route.handler(params, body) };
        } catch (error) {
          const e = asNetworkdError(error);
          return { status: e.status, body: e.toJSON() };
        }
      };
      if (route.change) {
        const result = await this.#tasks.run(
          taskId,
          { request: `${method} ${path}`, digest: requestDigest(body) },
          work,
        );
        outcome = result;
        replayed = result.replayed;
      } else {
        outcome = await work();
      }
    } catch (error) {
      const e = asNetworkdError(error);
      outcome = { status: e.status, body: e.toJSON() };
    }
    // Server faults, and bodies over the limit (whose connection is cut before the answer could be read).
    if (outcome.status >= 500 || outcome.status === 413) {
      const cause = (outcome.body as { error?: { message?: string } }).error?.message ?? '';
      this.#log(`${method} ${path}: ${outcome.status} ${cause}`);
    }
    sendJson(request, response, outcome.status, outcome.body, {
      ...(replayed ? { 'x-task-replayed': 'true' } : {}),
      'x-elapsed-ms': (performance.now() - started).toFixed(1),
    });
  }
}
