/**
 * The one client of zmesh's HTTP+JSON APIs on UNIX sockets (networkd's, provisiond's): every
 * caller — provisiond's task handler, the tool, the simulated world, the CNI plugin, the store
 * agent — sends through it, so each request has a deadline (for the whole exchange, not per idle
 * gap), a bound on the answer's size, and errors of one type that say what went wrong and where.
 *
 * Any HTTP status is an answer: what a status means stays with each caller. Only no answer (no
 * socket, nobody listening, reset, deadline passed) or an answer past the bound is an error.
 */
import http from 'node:http';
import { CodedError } from '../common/coded-error.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export type HttpClientErrorCode =
  /** No answer: the socket is missing (ENOENT), nobody listens (ECONNREFUSED), or the connection broke. */
  | 'EUNREACHABLE'
  /** No complete answer before the deadline. */
  | 'ETIMEDOUT'
  /** The answer's body is larger than the client's bound. */
  | 'ETOOLARGE';

export interface HttpClientErrorContext {
  readonly socket: string;
  readonly method: string;
  readonly path: string;
  /** The errno-like code of a socket failure (ENOENT, ECONNREFUSED, ECONNRESET, ...). */
  readonly errno?: string;
  /** The status of an answer that was cut off for its size. */
  readonly status?: number;
}

export class HttpClientError extends CodedError<HttpClientErrorCode, HttpClientErrorContext> {
  override readonly name = 'HttpClientError';
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body as text (UTF-8). */
  readonly text: string;
  /** The body parsed as JSON; null when it is empty, undefined when it is not JSON. */
  readonly body: unknown;
}

export interface HttpRequestOptions {
  /** Sent as JSON (content-type application/json). */
  readonly body?: unknown;
  /** Sent as it is, instead of `body` (for callers that must send what is not JSON). */
  readonly rawBody?: string | Buffer;
  readonly headers?: http.OutgoingHttpHeaders;
  /** This request's deadline instead of the client's. */
  readonly timeoutMs?: number;
}

export interface UnixHttpClientOptions {
  readonly socketPath: string;
  /** The deadline of one request, connect to last byte (30 s). */
  readonly timeoutMs?: number;
  /** The largest answer body accepted (4 MiB). */
  readonly maxAnswerBytes?: number;
  /** Connections kept open for reuse (default: as many as requests in flight). */
  readonly maxSockets?: number;
}

/** What a JSON API's error answer says: `{ error: { code, message, field?, ... } }`. */
export interface ApiErrorAnswer {
  readonly code: string | undefined;
  readonly message: string;
  readonly field: string | undefined;
  /** Everything the error object carries (task, issues, ...), as sent. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** The error a JSON API answered, or null when `body` is not an error answer. */
export function apiErrorOf(body: unknown): ApiErrorAnswer | null {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (error === null || typeof error !== 'object') return null;
  const details = error as Record<string, unknown>;
  if (typeof details.message !== 'string') return null;
  return {
    code: typeof details.code === 'string' ? details.code : undefined,
    message: details.message,
    field: typeof details.field === 'string' ? details.field : undefined,
    details,
  };
}

export class UnixHttpClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  readonly maxAnswerBytes: number;
  readonly #agent: http.Agent;

  constructor(options: UnixHttpClientOptions) {
    this.socketPath = options.socketPath;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    // Idle kept-alive sockets are unref'd by the agent: a client never holds its process open.
    this.#agent = new http.Agent({
      keepAlive: true,
      ...(options.maxSockets === undefined ? {} : { maxSockets: options.maxSockets }),
    });
  }

  /** Closes the kept-alive connections; requests in flight are cut (EUNREACHABLE). */
  close(): void {
    this.#agent.destroy();
  }

  /** One request; resolves with any status, rejects only with an HttpClientError. */
  request(method: string, path: string, options: HttpRequestOptions = {}): Promise<HttpAnswer> {
    const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers: http.OutgoingHttpHeaders = {
      ...(options.body !== undefined && options.rawBody === undefined ? { 'content-type': 'application/json' } : {}),
      'content-length': payload === undefined ? 0 : Buffer.byteLength(payload),
      ...options.headers,
    };
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const context = { socket: this.socketPath, method, path };
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: HttpClientError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        request.destroy();
        reject(error);
      };
      const deadline = setTimeout(
        () =>
          fail(
            new HttpClientError(
              'ETIMEDOUT',
              `${method} ${path}: no answer at ${this.socketPath} within ${timeoutMs} ms`,
              context,
            ),
          ),
        timeoutMs,
      );
      const request = http.request(
        { socketPath: this.socketPath, agent: this.#agent, method, path, headers },
        (response) => {
          const status = response.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxAnswerBytes) {
              fail(
                new HttpClientError(
                  'ETOOLARGE',
                  `${method} ${path}: the answer at ${this.socketPath} exceeds ${this.maxAnswerBytes} bytes`,
                  { ...context, status },
                ),
              );
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (error: NodeJS.ErrnoException) => fail(unreachable(error)));
          response.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(deadline);
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status, headers: response.headers, text, body: parseJson(text) });
          });
        },
      );
      const unreachable = (error: NodeJS.ErrnoException): HttpClientError =>
        new HttpClientError(
          'EUNREACHABLE',
          `${method} ${path}: no answer at ${this.socketPath}: ${error.code ?? error.message}`,
          {
            ...context,
            errno: error.code ?? 'EIO',
          },
        );
      request.on('error', (error: NodeJS.ErrnoException) => fail(unreachable(error)));
      request.end(payload);
    });
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
