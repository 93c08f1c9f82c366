/**
 * One client connection of a line-oriented UNIX-socket server (the UAPI server of each device,
 * the control socket of `zmesh wgd`): bytes split into lines however they arrive (a line may come
 * in many writes, many lines in one), answers queued so they go out in request order, reading
 * stopped while too many answers wait (lines already received are held, not split), answers
 * written with backpressure, and the end of a framing violation.
 *
 * Owns the memory bound: a line longer than maxLineBytes is never held; the owner is told
 * (onLineTooLong) and answers it through cutOff, which stops reading, sends what is already
 * queued and that answer, and closes. A line cut short by the end of the stream is not a
 * request: it is dropped (the owner is told, onEnd), and the socket is ended once every queued
 * answer has gone out.
 * What a line means and how an error is answered stay with the owner.
 */
import type net from 'node:net';

export interface LineConnectionOptions {
  readonly maxLineBytes: number;
  /**
   * How many queued answers stop reading. 1 is one request at a time, as wireguard-go serves a
   * connection: lines after a complete request wait unread (in the socket, or in the rest of the
   * chunk they came in) until its answer has gone out, so a pipelining client never queues work.
   */
  readonly maxPending: number;
  /** A complete line, without its newline. */
  onLine(line: string): void;
  /** The pending bytes of a line passed maxLineBytes: answer it with cutOff. */
  onLineTooLong(): void;
  /** Queued work threw: answer the error (the queue goes on). */
  onWorkError(error: unknown): void;
  /**
   * The client ended its side (after every line before was handled); `partialLine` is true when
   * bytes of a line without its newline were pending (they are dropped). Queue any last answer
   * here: the socket is ended after it. Without it, the end is not answered.
   */
  onEnd?(partialLine: boolean): void;
}

export class LineConnection {
  readonly #socket: net.Socket;
  readonly #options: LineConnectionOptions;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #answers: Promise<void> = Promise.resolve();
  #pending = 0;
  #stopped = false;
  /** Bytes received but not yet split into lines, because enough answers are pending. */
  #held: Buffer | null = null;
  #ended = false;
  #endHandled = false;

  constructor(socket: net.Socket, options: LineConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      this.#ended = true;
      this.#maybeEnd();
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#stopped) return;
    // Data that arrives while lines are held (a 'data' already on its way when reading paused) queues behind them.
    if (this.#held !== null) this.#held = Buffer.concat([this.#held, chunk]);
    else this.#consume(chunk);
  }

  /** Splits `chunk` into lines until it is used up or enough answers are pending (the rest is held). */
  #consume(chunk: Buffer): void {
    let start = 0;
    while (!this.#stopped) {
      if (this.#pending >= this.#options.maxPending) {
        // Copy: the chunk's memory belongs to the stream.
        if (start < chunk.length) this.#held = Buffer.from(chunk.subarray(start));
        return;
      }
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline < 0 ? chunk.length : newline);
      if (this.#partialBytes + piece.length > this.#options.maxLineBytes) {
        this.#partial = [];
        this.#partialBytes = 0;
        this.#options.onLineTooLong();
        return;
      }
      if (newline < 0) {
        if (piece.length > 0) this.#partial.push(Buffer.from(piece));
        this.#partialBytes += piece.length;
        return;
      }
      start = newline + 1;
      const bytes = this.#partialBytes === 0 ? piece : Buffer.concat([...this.#partial, piece]);
      this.#partial = [];
      this.#partialBytes = 0;
      this.#options.onLine(bytes.toString('utf8'));
    }
  }

  /** Once the client has ended and every line it sent was handled: the owner's last word, then the end. */
  #maybeEnd(): void {
    if (
      !this.#ended ||
      this.#endHandled ||
      this.#stopped ||
      this.#held !== null ||
      this.#pending >= this.#options.maxPending
    )
      return;
    this.#endHandled = true;
    const partialLine = this.#partialBytes > 0;
    this.#partial = [];
    this.#partialBytes = 0;
    this.#options.onEnd?.(partialLine);
    this.enqueue(async () => {
      this.#socket.end();
    });
  }

  /** Queues an answer; answers go out in request order. Reading stops while `maxPending` wait. */
  enqueue(work: () => Promise<void>): void {
    this.#pending++;
    if (this.#pending >= this.#options.maxPending) this.#socket.pause();
    this.#answers = this.#answers
      .then(work)
      .catch((error: unknown) => this.#options.onWorkError(error))
      .finally(() => {
        this.#pending--;
        if (this.#pending >= this.#options.maxPending || this.#stopped) return;
        const held = this.#held;
        this.#held = null;
        if (held !== null) this.#consume(held);
        if (this.#held === null && this.#pending < this.#options.maxPending) {
          this.#socket.resume();
          this.#maybeEnd();
        }
      });
  }

  /** Writes `text`; resolves once the socket can take more (backpressure), or at once if it is gone. */
  write(text: string): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return Promise.resolve();
    if (socket.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** A framing violation: stop reading, send `answer` after what is already queued, then close. */
  cutOff(answer: () => void): void {
    this.#stopped = true;
    this.#held = null;
    this.#partial = [];
    this.#partialBytes = 0;
    this.#socket.pause();
    this.#socket.removeAllListeners('data');
    this.enqueue(async () => {
      answer();
      this.#socket.end();
      // Do not wait for the client to finish sending an endless line.
      this.#socket.once('finish', () => this.#socket.destroy());
    });
  }
}

/** A server's open connections, so that closing the server cuts them (a client may never hang up). */
export class OpenConnections {
  readonly #sockets = new Set<net.Socket>();
  #closed = false;

  /** Tracks `socket`; false, with the socket destroyed, once the server is closing. */
  admit(socket: net.Socket): boolean {
    if (this.#closed) {
      socket.destroy();
      return false;
    }
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    return true;
  }

  /** Destroys every open connection and refuses later ones. */
  closeAll(): void {
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
  }
}
