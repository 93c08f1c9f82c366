/**
 * networkd's HTTP+JSON API on a root-only UNIX socket (node:http; the socket file's life —
 * directory 0700, stale replaced, live refused, umask 077 bind — is src/wg/uapi/socket-file.ts).
 *
 *   GET    /v1/health
 *   GET    /v1/networks                       GET /v1/networks/{name}
 *   PUT    /v1/networks/{name}                 body: a network definition
 *   DELETE /v1/networks/{name}
 *   POST   /v1/networks/{name}/workloads       body: { workload, netns, ifname, ip? }
 *   DELETE /v1/networks/{name}/workloads/{workload}
 *
 * Owns routing, body limits, JSON in and out, the mapping of errors to statuses
 * (`{ error: { code, message, field?, issues? } }`) and X-Task-Id idempotency of changes.
 */
import http from 'node:http';
import { bindSocketFile, type BoundSocketFile, SocketFileError } from '../wg/uapi/socket-file.js';
import { NetworkdError, asNetworkdError, invalid } from './errors.js';
import { parseAttachRequest, parseNetworkName, parseTaskId } from './requests.js';
import type { NetworkService } from './service.js';
import type { TaskLog, TaskOutcome } from './task-log.js';

/** A whole definition of thousands of NRs fits; more is refused before it is read. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface ApiOptions {
  readonly service: NetworkService;
  readonly tasks: TaskLog;
  readonly health: () => object;
  readonly log?: (message: string) => void;
}

type Handler = (params: string[], body: () => Promise<unknown>) => Promise<object>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly change: boolean;
  readonly handler: Handler;
}

function readBody(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > MAX_BODY_BYTES) {
      reject(new NetworkdError('ETOOLARGE', `body: larger than ${MAX_BODY_BYTES} bytes`, { field: 'body' }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.destroy();
        reject(new NetworkdError('ETOOLARGE', `body: larger than ${MAX_BODY_BYTES} bytes`, { field: 'body' }));
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        reject(invalid('body', 'is empty (expected JSON)'));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(invalid('body', `not valid JSON: ${(error as Error).message}`));
      }
    });
  });
}

export class Api {
  readonly #server: http.Server;
  readonly #routes: Route[];
  readonly #tasks: TaskLog;
  readonly #log: (message: string) => void;
  #socketFile: BoundSocketFile | null = null;

  constructor(options: ApiOptions) {
    const { service } = options;
    this.#tasks = options.tasks;
    this.#log = options.log ?? (() => {});
    const name = (params: string[]) => parseNetworkName(decodeURIComponent(params[0] ?? ''));
    this.#routes = [
      { method: 'GET', pattern: /^\/v1\/health$/, change: false, handler: async () => options.health() },
      { method: 'GET', pattern: /^\/v1\/networks$/, change: false, handler: async () => ({ networks: await service.listNetworks() }) },
      { method: 'GET', pattern: /^\/v1\/networks\/([^/]+)$/, change: false, handler: async (p) => service.getNetwork(name(p)) },
      { method: 'PUT', pattern: /^\/v1\/networks\/([^/]+)$/, change: true, handler: async (p, body) => service.applyNetwork(name(p), await body()) },
      { method: 'DELETE', pattern: /^\/v1\/networks\/([^/]+)$/, change: true, handler: async (p) => service.deleteNetwork(name(p)) },
      { method: 'POST', pattern: /^\/v1\/networks\/([^/]+)\/workloads$/, change: true, handler: async (p, body) => service.attachWorkload(name(p), parseAttachRequest(await body())) },
      { method: 'DELETE', pattern: /^\/v1\/networks\/([^/]+)\/workloads\/([^/]+)$/, change: true, handler: async (p) => service.detachWorkload(name(p), decodeURIComponent(p[1] ?? '')) },
    ];
    this.#server = http.createServer((request, response) => void this.#handle(request, response));
  }

  /** Listens on `socketPath` (root-only); EADDRINUSE when a live networkd serves it. */
  async listen(socketPath: string): Promise<void> {
    try {
      this.#socketFile = await bindSocketFile(this.#server, socketPath, { directoryMode: 0o700 });
    } catch (error) {
      if (error instanceof SocketFileError) {
        throw new NetworkdError(error.code === 'EADDRINUSE' ? 'ECONFLICT' : 'EUNAVAILABLE', `API socket ${error.message}`, { field: '--socket' }, { cause: error });
      }
      throw error;
    }
  }

  /** Stops accepting and cuts idle connections; removes the socket file if it is still ours. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
    this.#socketFile?.removeIfOurs();
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    let outcome: TaskOutcome;
    let replayed = false;
    try {
      const matching = this.#routes.filter((r) => r.pattern.test(path));
      if (matching.length === 0) throw new NetworkdError('ENOENT', `no such path: ${path.slice(0, 200)}`, { field: 'path' });
      const route = matching.find((r) => r.method === method);
      if (!route) throw new NetworkdError('EMETHOD', `${method} is not allowed on ${path.slice(0, 200)} (allowed: ${matching.map((r) => r.method).join(', ')})`, { field: 'method' });
      const params = (route.pattern.exec(path) ?? []).slice(1);
      const work = async (): Promise<TaskOutcome> => {
        try {
          return { status: 200, body: await route.handler(params, () => readBody(request)) };
        } catch (error) {
          const e = asNetworkdError(error);
          return { status: e.status, body: e.toJSON() };
        }
      };
      if (route.change) {
        const taskId = parseTaskId(request.headers['x-task-id']);
        const result = await this.#tasks.run(taskId, `${method} ${path}`, work);
        outcome = result;
        replayed = result.replayed;
      } else {
        outcome = await work();
      }
    } catch (error) {
      const e = asNetworkdError(error);
      outcome = { status: e.status, body: e.toJSON() };
    }
    if (outcome.status >= 500) {
      const cause = (outcome.body as { error?: { message?: string } }).error?.message ?? '';
      this.#log(`${method} ${path}: ${outcome.status} ${cause}`);
    }
    const text = `${JSON.stringify(outcome.body)}\n`;
    response.writeHead(outcome.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...(replayed ? { 'x-task-replayed': 'true' } : {}),
      'x-elapsed-ms': (performance.now() - started).toFixed(1),
    });
    response.end(text);
    // A body never read (error before reading) must not keep the connection stuck.
    if (!request.complete) request.resume();
  }
}
