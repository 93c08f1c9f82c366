/**
 * The part of a JSON API on a root-only UNIX socket that networkd and provisiond share: the
 * node:http server and its socket file (the file's life — directory 0700, stale replaced, live
 * refused, umask 077 bind — is src/socket/socket-file.ts), finding the route of a request, and
 * writing a JSON answer. What routes do, which errors get logged and any extra headers stay with
 * each daemon; the errors raised here are made with the daemon's own error class.
 */
import http from 'node:http';
import { bindSocketFile, type BoundSocketFile, SocketFileError } from '../socket/socket-file.js';

/** The codes this layer raises; each daemon's error type has them all. */
export type ServerErrorCode = 'ENOENT' | 'EMETHOD' | 'ETOOLARGE' | 'ECONFLICT' | 'EUNAVAILABLE';

/** A daemon's error class, as far as this layer uses it. */
export type ServerErrorClass = new (
  code: ServerErrorCode,
  message: string,
  context: { field: string },
  options?: { cause?: unknown },
) => Error;

export interface RoutePattern {
  readonly method: string;
  readonly pattern: RegExp;
}

/** The route for `method` on `path` and the pattern's captures; ENOENT for no such path, EMETHOD for another method. */
export function findRoute<R extends RoutePattern>(
  routes: readonly R[],
  method: string,
  path: string,
  error: ServerErrorClass,
): { route: R; params: string[] } {
  const matching = routes.filter((r) => r.pattern.test(path));
  if (matching.length === 0) throw new error('ENOENT', `no such path: ${path.slice(0, 200)}`, { field: 'path' });
  const route = matching.find((r) => r.method === method);
  if (!route)
    throw new error(
      'EMETHOD',
      `${method} is not allowed on ${path.slice(0, 200)} (allowed: ${matching.map((r) => r.method).join(', ')})`,
      { field: 'method' },
    );
  return { route, params: (route.pattern.exec(path) ?? []).slice(1) };
}

/** Answers `body` as one line of JSON with its status and any extra headers. */
export function sendJson(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
  // A body never read (error before reading) must not keep the connection stuck.
  if (!request.complete) request.resume();
}

/** The HTTP server on its socket file. */
export class JsonApiServer {
  readonly #server: http.Server;
  readonly #error: ServerErrorClass;
  #socketFile: BoundSocketFile | null = null;

  constructor(
    handle: (request: http.IncomingMessage, response: http.ServerResponse) => Promise<void>,
    error: ServerErrorClass,
  ) {
    this.#server = http.createServer((request, response) => void handle(request, response));
    this.#error = error;
  }

  /** Listens on `socketPath` (root-only); ECONFLICT when a live daemon serves it, EUNAVAILABLE when it cannot be bound. */
  async listen(socketPath: string): Promise<void> {
    try {
      this.#socketFile = await bindSocketFile(this.#server, socketPath, { directoryMode: 0o700 });
    } catch (error) {
      if (error instanceof SocketFileError) {
        throw new this.#error(
          error.code === 'EADDRINUSE' ? 'ECONFLICT' : 'EUNAVAILABLE',
          `API socket ${error.message}`,
          { field: '--socket' },
          { cause: error },
        );
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
}
