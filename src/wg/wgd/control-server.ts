/**
 * The control socket of `zmesh wgd`: a root-only UNIX stream socket (directory created 0700,
 * socket bound under umask 077, a stale socket replaced, a live one refused — socket-file.ts)
 * speaking newline-delimited JSON (protocol.ts).
 *
 * Owns the framing: bytes are split into lines however they arrive (a request may come in many
 * writes, many requests in one), each line is parsed and handed to the handler, and answers go
 * out in request order. A line longer than maxLineBytes is answered with EINVAL and the
 * connection is closed, so no client can make the daemon hold unbounded memory; a client that
 * sends many requests without reading answers is paused after a few.
 */
import net from 'node:net';
import { internalErrorMessage } from '../../common/coded-error.js';
import { LineConnection, OpenConnections } from '../../socket/line-connection.js';
import { type BoundSocketFile, SocketFileError, bindSocketFile } from '../../socket/socket-file.js';
import { WgdError, invalidField } from './errors.js';
import { formatAnswer, parseRequestLine, type WgdRequest } from './protocol.js';

/** Carries out one valid request; resolves to the answer's body or throws a WgdError. */
export type RequestHandler = (request: WgdRequest) => Promise<object>;

export interface ControlServerOptions {
  /** Longest accepted line in bytes, newline excluded (a request is well under 1 KiB). */
  readonly maxLineBytes?: number;
  /** Requests refused or failed (for the daemon's log; they carry no secrets). */
  readonly onRequestError?: (error: WgdError) => void;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** Requests read ahead of their answers on one connection before reading pauses. */
const MAX_PENDING_PER_CONNECTION = 16;

export class ControlServer {
  readonly socketPath: string;
  readonly #server: net.Server;
  readonly #connections = new OpenConnections();
  #socketFile: BoundSocketFile | null = null;
  #closed = false;

  private constructor(socketPath: string, handler: RequestHandler, options: ControlServerOptions) {
    this.socketPath = socketPath;
    const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    // allowHalfOpen: `printf '{"op":"list"}\n' | ncat -U SOCKET` still gets its answer.
    this.#server = net.createServer({ allowHalfOpen: true }, (socket) => {
      if (!this.#connections.admit(socket)) return; // the server is closing
      new ControlConnection(socket, maxLineBytes, handler, options.onRequestError ?? (() => {}));
    });
  }

  /** Binds the socket and starts serving. EADDRINUSE when a live server answers there. */
  static async listen(
    socketPath: string,
    handler: RequestHandler,
    options: ControlServerOptions = {},
  ): Promise<ControlServer> {
    const server = new ControlServer(socketPath, handler, options);
    try {
      // The control socket creates and deletes devices: root only, directory included.
      server.#socketFile = await bindSocketFile(server.#server, socketPath, { directoryMode: 0o700 });
    } catch (error) {
      if (error instanceof SocketFileError)
        throw new WgdError(error.code, `control socket ${error.message}`, { path: socketPath }, { cause: error });
      throw error;
    }
    return server;
  }

  /** Stops accepting, cuts open connections and removes the socket file if it is still ours. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#connections.closeAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#socketFile?.removeIfOurs();
  }
}

/** One client connection: lines (line-connection.ts) parsed into requests, answered in order. */
class ControlConnection {
  readonly #lines: LineConnection;
  readonly #handler: RequestHandler;
  readonly #onRequestError: (error: WgdError) => void;

  constructor(
    socket: net.Socket,
    maxLineBytes: number,
    handler: RequestHandler,
    onRequestError: (error: WgdError) => void,
  ) {
    this.#handler = handler;
    this.#onRequestError = onRequestError;
    // A line cut short by the end of the stream is not a request: it is dropped.
    this.#lines = new LineConnection(socket, {
      maxLineBytes,
      maxPending: MAX_PENDING_PER_CONNECTION,
      onLine: (line) => this.#onLine(line.replace(/\r$/, '')),
      onLineTooLong: () => {
        // An oversized line: answer it after what is already queued, then close the connection.
        const error = invalidField('request', `line longer than ${maxLineBytes} bytes; closing the connection`);
        this.#lines.cutOff(() => this.#answerError(undefined, error));
      },
      onWorkError: (error) => this.#answerError(undefined, asWgdError(error)),
    });
  }

  #onLine(line: string): void {
    if (line.trim() === '') return; // blank lines between requests answer nothing
    const parsed = parseRequestLine(line);
    if (!parsed.ok) {
      this.#lines.enqueue(async () => this.#answerError(parsed.id, parsed.error));
      return;
    }
    this.#lines.enqueue(async () => {
      let body: object;
      try {
        body = await this.#handler(parsed.request);
      } catch (error) {
        this.#answerError(parsed.id, asWgdError(error));
        return;
      }
      this.#lines.write(formatAnswer(parsed.id, { ok: true, body }));
    });
  }

  #answerError(id: string | number | undefined, error: WgdError): void {
    this.#onRequestError(error);
    this.#lines.write(formatAnswer(id, { ok: false, error }));
  }
}

function asWgdError(error: unknown): WgdError {
  if (error instanceof WgdError) return error;
  // A foreign error's message could carry anything: only its class goes on the wire.
  return new WgdError('EIO', internalErrorMessage(error, { withCode: false }), {}, { cause: error });
}
