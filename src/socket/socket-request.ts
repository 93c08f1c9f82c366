/**
 * One request and its answer over a UNIX stream socket, as the UAPI client and wgd's client
 * speak to their servers: connect, send, read until the answer's terminator (a newline, or the
 * blank line that ends a UAPI answer) within a byte bound and a deadline, then hang up. The
 * protocols' meaning stays with each client, and so do the errors: each names its own.
 */
import net from 'node:net';

export interface SocketRequestErrors {
  timeout(): Error;
  tooLarge(): Error;
  /** The server hung up before the terminator. */
  closedEarly(): Error;
  /** Connecting or talking failed (ENOENT: no socket, ECONNREFUSED: nobody listens). */
  socket(error: NodeJS.ErrnoException): Error;
}

export interface SocketRequestOptions {
  readonly terminator: '\n' | '\n\n';
  readonly timeoutMs: number;
  readonly maxAnswerBytes: number;
  readonly errors: SocketRequestErrors;
}

/** Sends `request`; resolves with the answer up to and including its terminator. */
export function requestOverSocket(socketPath: string, request: string, options: SocketRequestOptions): Promise<string> {
  const { errors } = options;
  const terminator = Buffer.from(options.terminator);
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const socket = net.connect(socketPath);
    const finish = (error: Error | null, answer?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(errors.timeout()), options.timeoutMs);
    socket.on('connect', () => socket.write(request));
    let lastByte = -1;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const offset = received;
      received += chunk.length;
      if (received > options.maxAnswerBytes) {
        finish(errors.tooLarge());
        return;
      }
      // Look for the terminator in the new bytes only (and across the chunk boundary, for the
      // two-byte one), so a multi-megabyte answer is not rescanned per chunk.
      let end = terminator.length === 2 && lastByte === terminator[0] && chunk[0] === terminator[1] ? offset - 1 : -1;
      if (end < 0) {
        const at = chunk.indexOf(terminator);
        if (at >= 0) end = offset + at;
      }
      lastByte = chunk[chunk.length - 1] ?? lastByte;
      if (end >= 0)
        finish(
          null,
          Buffer.concat(chunks)
            .subarray(0, end + terminator.length)
            .toString('utf8'),
        );
    });
    socket.on('end', () => finish(errors.closedEarly()));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(errors.socket(error)));
  });
}
