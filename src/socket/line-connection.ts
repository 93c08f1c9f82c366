/**
 * One client connection of a line-oriented UNIX-socket server (the UAPI server of each device,
 * the control socket of `zmesh wgd`): bytes split into lines however they arrive (a line may come
 * in many writes, many lines in one), answers queued so they go out in request order, reading
 * paused while too many answers wait, and the end of a framing violation.
 *
 * Owns the memory bound: a line longer than maxLineBytes is never held; the owner is told
 * (onLineTooLong) and answers it through cutOff, which stops reading, sends what is already
 * queued and that answer, and closes. A line cut short by the end of the stream is not a
 * request: it is dropped, and the socket is ended once every queued answer has gone out.
 * What a line means and how an error is answered stay with the owner.
 */
import type net from 'node:net';

export interface LineConnectionOptions {
  readonly maxLineBytes: number;
  /** How many queued answers pause reading. */
  readonly maxPending: number;
  /** A complete line, without its newline. */
  onLine(line: string): void;
  /** The pending bytes of a line passed maxLineBytes: answer it with cutOff. */
  onLineTooLong(): void;
  /** Queued work threw: answer the error (the queue goes on). */
  onWorkError(error: unknown): void;
}

export class LineConnection {
  readonly #socket: net.Socket;
  readonly #options: LineConnectionOptions;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #answers: Promise<void> = Promise.resolve();
  #pending = 0;
  #stopped = false;

  constructor(socket: net.Socket, options: LineConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.enqueue(async () => {
      socket.end();
    }));
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    while (!this.#stopped) {
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline < 0 ? chunk.length : newline);
      if (this.#partialBytes + piece.length > this.#options.maxLineBytes) {
        this.#partial = [];
        this.#partialBytes = 0;
        this.#options.onLineTooLong();
        return;
      }
      if (newline < 0) {
        // Copy: the chunk's memory belongs to the stream.
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

  /** Queues an answer; answers go out in request order. Reading pauses when too many wait. */
  enqueue(work: () => Promise<void>): void {
    this.#pending++;
    if (this.#pending >= this.#options.maxPending) this.#socket.pause();
    this.#answers = this.#answers
      .then(work)
      .catch((error: unknown) => this.#options.onWorkError(error))
      .finally(() => {
        this.#pending--;
        if (this.#pending < this.#options.maxPending && !this.#stopped) this.#socket.resume();
      });
  }

  write(text: string): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(text);
  }

  /** A framing violation: stop reading, send `answer` after what is already queued, then close. */
  cutOff(answer: () => void): void {
    this.#stopped = true;
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
