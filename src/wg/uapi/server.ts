/**
 * The UAPI server: one root-only UNIX stream socket per device, speaking the cross-platform
 * userspace API (the protocol wg(8) uses with wireguard-go) to a UapiDevice.
 *
 * Owns the socket file's lifecycle (directory 0755, socket created under umask 077, a stale
 * socket replaced, a live one refused, removal noticed), the framing of requests on a connection
 * (several per connection, one at a time as wireguard-go serves them: the next is not read until
 * this one's answer has gone out; bounded line length and request size, so no client can make it
 * hold unbounded memory; a `get` answer streamed with backpressure) and the serialisation of
 * requests to the device (one at a time across all connections: a set is read-modify-write; a get
 * holds the device only to take its view, not while a slow reader drains it). It does not interpret the
 * configuration: a set request is parsed whole (SetRequestBuilder) and handed to the device,
 * which applies all of it or throws a UapiError and applies none.
 */
import { watch, type FSWatcher } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { internalErrorMessage } from '../../common/coded-error.js';
import type { SetRequest } from '../config.js';
import { UapiError, invalid } from './errors.js';
import { formatErrno, formatGetResponseChunks } from './format.js';
import { LineConnection, OpenConnections } from '../../socket/line-connection.js';
import { SetRequestBuilder, printableKey, splitLine } from './parse.js';
import { type BoundSocketFile, SocketFileError, bindSocketFile, checkSocketPath } from '../../socket/socket-file.js';
import { SharedTicker } from '../shared-ticker.js';
import type { DeviceView } from './view.js';

/** What the server drives. The device decides errnos: -EIO for internal failures, -EADDRINUSE
 *  when the listen port cannot be bound; a set that throws must have changed nothing. */
export interface UapiDevice {
  get(): Promise<DeviceView> | DeviceView;
  set(request: SetRequest): Promise<void> | void;
}

export interface UapiServerOptions {
  /** Longest accepted line in bytes, newline excluded. wg's longest line is ~80 bytes. */
  readonly maxLineBytes?: number;
  /** Most lines in one request; ~5 lines per peer, so the default carries ~200,000 peers. */
  readonly maxRequestLines?: number;
  /** Called once when the socket file is deleted or replaced (the daemon then exits). */
  readonly onSocketRemoved?: () => void;
  /** Fallback poll of the socket file, for removals the directory watch misses. */
  readonly socketCheckIntervalMs?: number;
  /** Requests answered with an error (never contains key material). */
  readonly onRequestError?: (error: UapiError) => void;
}

const DEFAULTS = { maxLineBytes: 4096, maxRequestLines: 1_000_000, socketCheckIntervalMs: 1000 };
/**
 * The fallback polls of all the servers of a process with one interval share one timer: wgd
 * serves a socket per device, and a timer each woke it once a second per device. Unreferenced:
 * a poll never keeps a process alive.
 */
const pollTickers = new Map<number, SharedTicker>();
function pollTicker(periodMs: number): SharedTicker {
  let ticker = pollTickers.get(periodMs);
  if (!ticker) {
    ticker = new SharedTicker(periodMs, { unref: true });
    pollTickers.set(periodMs, ticker);
  }
  return ticker;
}
/** Requests of one connection being served at a time (wireguard-go's: one; a pipelining client waits its turn). */
const MAX_PENDING_PER_CONNECTION = 1;

export class UapiServer {
  readonly socketPath: string;
  readonly #server: net.Server;
  readonly #device: UapiDevice;
  readonly #options: Required<Omit<UapiServerOptions, 'onSocketRemoved' | 'onRequestError'>> & UapiServerOptions;
  readonly #connections = new OpenConnections();
  #socketFile: BoundSocketFile | null = null;
  #deviceQueue: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | null = null;
  /** Stops the fallback poll. */
  #stopPoll: (() => void) | null = null;
  #closed = false;
  #removedReported = false;

  private constructor(socketPath: string, device: UapiDevice, options: UapiServerOptions) {
    this.socketPath = socketPath;
    this.#device = device;
    this.#options = { ...DEFAULTS, ...options };
    // allowHalfOpen: a client that sends its request and shuts down its side (`printf ... | ncat -U`)
    // still gets its answers; the connection ends after the last one.
    this.#server = net.createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
  }

  /**
   * Creates the socket and starts serving. Throws UapiError EADDRINUSE when a live server
   * already answers on the path, EEXIST when the path is something other than a socket.
   */
  static async listen(socketPath: string, device: UapiDevice, options: UapiServerOptions = {}): Promise<UapiServer> {
    try {
      checkSocketPath(socketPath);
    } catch (error) {
      throw asUapiSocketError(error);
    }
    const server = new UapiServer(socketPath, device, options);
    await server.#bind();
    server.#watchRemoval();
    return server;
  }

  async #bind(): Promise<void> {
    try {
      // wg(8) and wg-quick expect the directory world-readable (0755) whatever our umask is.
      this.#socketFile = await bindSocketFile(this.#server, this.socketPath, { directoryMode: 0o755 });
    } catch (error) {
      throw asUapiSocketError(error);
    }
  }

  /** Resolves when the server is closed; connections are cut, the socket file removed if still ours. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWatching();
    // The path goes before the listener: a socket file that refuses connections is one wg(8)
    // unlinks as stale (and a successor's, bound meanwhile, is not ours to remove).
    this.#socketFile?.removeIfOurs();
    this.#connections.closeAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #stillOurs(): boolean {
    return this.#socketFile?.stillOurs() ?? false;
  }

  #watchRemoval(): void {
    const check = (): void => {
      if (this.#closed || this.#removedReported || this.#stillOurs()) return;
      this.#removedReported = true;
      this.#stopWatching();
      this.#options.onSocketRemoved?.();
    };
    try {
      const name = path.basename(this.socketPath);
      this.#watcher = watch(path.dirname(this.socketPath), { persistent: false }, (_event, file) => {
        if (file === null || file === name) check();
      });
      this.#watcher.on('error', check);
    } catch {
      // No inotify (e.g. watches exhausted): the poll below still notices.
    }
    this.#stopPoll = pollTicker(this.#options.socketCheckIntervalMs).add(check);
  }

  #stopWatching(): void {
    this.#watcher?.close();
    this.#watcher = null;
    this.#stopPoll?.();
    this.#stopPoll = null;
  }

  /** Runs device calls one at a time, across all connections. */
  #serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#deviceQueue.then(work, work);
    this.#deviceQueue = run.catch(() => undefined);
    return run;
  }

  #accept(socket: net.Socket): void {
    if (!this.#connections.admit(socket)) return; // the server is closing
    new Connection(socket, this.#options, {
      get: () => this.#serialised(async () => this.#device.get()),
      set: (request) =>
        this.#serialised(async () => {
          await this.#device.set(request);
        }),
      reportError: (error) => this.#options.onRequestError?.(error),
    });
  }
}

interface ConnectionHandlers {
  get(): Promise<DeviceView>;
  set(request: SetRequest): Promise<void>;
  reportError(error: UapiError): void;
}

/** A request being read: which operation, and what went wrong so far. */
type Reading =
  | { readonly op: 'none' }
  | { readonly op: 'get'; error: UapiError | null }
  | { readonly op: 'set'; readonly builder: SetRequestBuilder }
  | { readonly op: 'invalid'; readonly error: UapiError };

/** One client connection: lines (line-connection.ts) into requests, answered in order. */
class Connection {
  readonly #lines: LineConnection;
  readonly #maxRequestLines: number;
  readonly #handlers: ConnectionHandlers;
  #reading: Reading = { op: 'none' };
  #linesInRequest = 0;

  constructor(
    socket: net.Socket,
    limits: { maxLineBytes: number; maxRequestLines: number },
    handlers: ConnectionHandlers,
  ) {
    this.#maxRequestLines = limits.maxRequestLines;
    this.#handlers = handlers;
    // A request cut short by the end of the stream is dropped, never half-applied.
    this.#lines = new LineConnection(socket, {
      maxLineBytes: limits.maxLineBytes,
      maxPending: MAX_PENDING_PER_CONNECTION,
      onLine: (line) => this.#onLine(line),
      onLineTooLong: () => this.#cutOff(new UapiError('EPROTO', `line longer than ${limits.maxLineBytes} bytes`, {})),
      onWorkError: (err) => this.#answerError(asUapiError(err)),
      onEnd: (partialLine) => this.#onEnd(partialLine),
    });
  }

  /** The client ended its side: a request it left unfinished is answered (never applied), not met with silence. */
  #onEnd(partialLine: boolean): void {
    if (this.#reading.op === 'none' && !partialLine) return;
    this.#reading = { op: 'none' };
    const error = new UapiError('EPROTO', 'the request ended without its blank line; nothing was applied', {});
    this.#lines.enqueue(async () => this.#answerError(error));
  }

  #onLine(line: string): void {
    if (line.endsWith('\r')) {
      // wg(8) and wireguard-go end lines in "\n" alone: with "\r\n" no blank line ever ends a request.
      this.#cutOff(
        new UapiError('EPROTO', 'a line ends in "\\r\\n": UAPI lines end in "\\n" alone', {
          line: this.#linesInRequest + 1,
        }),
      );
      return;
    }
    const reading = this.#reading;
    if (line === '') {
      if (reading.op !== 'none') this.#finishRequest(reading);
      // A stray blank line between requests is ignored (it answers nothing).
      this.#reading = { op: 'none' };
      this.#linesInRequest = 0;
      return;
    }
    this.#linesInRequest++;
    if (this.#linesInRequest > this.#maxRequestLines) {
      this.#cutOff(new UapiError('EPROTO', `request longer than ${this.#maxRequestLines} lines`, {}));
      return;
    }
    switch (reading.op) {
      case 'none':
        this.#reading = startRequest(line);
        return;
      case 'get':
        reading.error ??= invalid('get=1 takes no lines before the blank line', { line: this.#linesInRequest });
        return;
      case 'set':
        reading.builder.add(line);
        return;
      case 'invalid':
        return;
    }
  }

  #finishRequest(reading: Exclude<Reading, { op: 'none' }>): void {
    switch (reading.op) {
      case 'get': {
        const error = reading.error;
        this.#lines.enqueue(async () => {
          if (error) return this.#answerError(error);
          // The view is the device's at one instant; it is formatted and sent piece by piece, each
          // piece only once the client has taken the last (a slow reader holds only its own connection).
          for (const piece of formatGetResponseChunks(await this.#handlers.get())) await this.#lines.write(piece);
        });
        return;
      }
      case 'set': {
        let request: SetRequest;
        try {
          request = reading.builder.finish();
        } catch (err) {
          const error = asUapiError(err);
          this.#lines.enqueue(async () => this.#answerError(error));
          return;
        }
        this.#lines.enqueue(async () => {
          await this.#handlers.set(request);
          await this.#lines.write(formatErrno(0));
        });
        return;
      }
      case 'invalid': {
        const error = reading.error;
        this.#lines.enqueue(async () => this.#answerError(error));
        return;
      }
    }
  }

  #answerError(error: UapiError): Promise<void> {
    this.#handlers.reportError(error);
    return this.#lines.write(formatErrno(error.errno));
  }

  /** A framing violation: answer it after what is already queued, then close the connection. */
  #cutOff(error: UapiError): void {
    this.#lines.cutOff(() => this.#answerError(error));
  }
}

function startRequest(line: string): Reading {
  if (line === 'get=1') return { op: 'get', error: null };
  if (line === 'set=1') return { op: 'set', builder: new SetRequestBuilder(2) };
  try {
    const [key] = splitLine(line, 1);
    return { op: 'invalid', error: invalid('expected get=1 or set=1', { line: 1, key: printableKey(key) }) };
  } catch (err) {
    return { op: 'invalid', error: asUapiError(err) };
  }
}

function asUapiError(err: unknown): UapiError {
  if (err instanceof UapiError) return err;
  // Internal failures are -EIO; the message of a foreign error is not passed on (it could carry
  // anything), only its class, and the original stays as cause for a debugger.
  return new UapiError('EIO', internalErrorMessage(err, { withCode: false }), {}, { cause: err });
}

/** The socket file's errors, as the UAPI's own error type (same code, path as context). */
function asUapiSocketError(error: unknown): UapiError {
  if (error instanceof SocketFileError)
    return new UapiError(error.code, error.reason, { path: error.path }, { cause: error });
  return asUapiError(error);
}
