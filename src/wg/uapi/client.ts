/**
 * The UAPI client: talks to any cross-platform userspace API socket (zmesh-wg, zmesh wgd's
 * devices, wireguard-go) the way wg(8) does. Used by networkd and the tests.
 *
 * One connection per call. A set answered with a non-zero errno becomes a UapiError with that
 * errno's code; a connection that fails, times out or answers garbage is -EIO/-ETIMEDOUT/-EPROTO.
 */
import net from 'node:net';
import type { SetRequest } from '../config.js';
import { UapiError, codeOfErrno } from './errors.js';
import { formatSetRequest } from './format.js';
import { parseGetResponse } from './parse.js';
import type { DeviceView } from './view.js';

export interface UapiClientOptions {
  /** Whole exchange, connect to answer. A set of 10,000 peers takes well under a second. */
  readonly timeoutMs?: number;
  /** Largest answer accepted (a get of 10,000 peers is ~4 MB). */
  readonly maxResponseBytes?: number;
}

export class UapiClient {
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(options: UapiClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  async get(socketPath: string): Promise<DeviceView> {
    const answer = await this.exchange(socketPath, 'get=1\n\n');
    const lines = answer.split('\n').slice(0, -2); // the answer ends "\n\n"
    const last = lines.pop();
    checkErrno(last, socketPath);
    return parseGetResponse(lines);
  }

  /**
   * `request`: a SetRequest, or the key=value lines of one (without `set=1` and the blank line),
   * e.g. "listen_port=51820\npublic_key=...\nallowed_ip=10.0.0.0/24".
   */
  async set(socketPath: string, request: SetRequest | string): Promise<void> {
    let text: string;
    if (typeof request === 'string') {
      const body = request.replace(/\n+$/, '');
      text = body === '' ? 'set=1\n\n' : `set=1\n${body}\n\n`;
    } else {
      text = formatSetRequest(request);
    }
    const answer = await this.exchange(socketPath, text);
    const lines = answer.split('\n').slice(0, -2);
    if (lines.length !== 1) throw new UapiError('EPROTO', 'a set answer is one errno line', { path: socketPath });
    checkErrno(lines[0], socketPath);
  }

  /** Sends raw request text, returns the raw answer up to and including its blank line. */
  exchange(socketPath: string, requestText: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let settled = false;
      const socket = net.connect(socketPath);
      const finish = (err: UapiError | null, answer?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(answer!);
      };
      const timer = setTimeout(
        () => finish(new UapiError('ETIMEDOUT', `no answer within ${this.#timeoutMs} ms`, { path: socketPath })),
        this.#timeoutMs,
      );
      socket.on('connect', () => socket.write(requestText));
      let lastByte = -1;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const offset = received;
        received += chunk.length;
        if (received > this.#maxResponseBytes) {
          finish(new UapiError('EPROTO', `answer larger than ${this.#maxResponseBytes} bytes`, { path: socketPath }));
          return;
        }
        // An answer's only empty line is its last: look for "\n\n" in the new bytes only (and
        // across the chunk boundary), so a multi-megabyte get is not rescanned per chunk.
        let end = lastByte === 0x0a && chunk[0] === 0x0a ? offset - 1 : -1;
        if (end < 0) {
          const at = chunk.indexOf('\n\n');
          if (at >= 0) end = offset + at;
        }
        lastByte = chunk[chunk.length - 1] ?? lastByte;
        if (end >= 0) finish(null, Buffer.concat(chunks).subarray(0, end + 2).toString('utf8'));
      });
      socket.on('end', () => finish(new UapiError('EPROTO', 'connection closed before a complete answer', { path: socketPath })));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code === 'ENOENT' ? 'ENOENT' : 'EIO';
        finish(new UapiError(code, `cannot talk to the socket: ${err.code ?? 'error'}`, { path: socketPath }));
      });
    });
  }
}

function checkErrno(line: string | undefined, socketPath: string): void {
  const m = /^errno=(-?\d{1,10})$/.exec(line ?? '');
  if (!m) throw new UapiError('EPROTO', 'answer does not end with an errno= line', { path: socketPath });
  const errno = Number(m[1]);
  if (errno === 0) return;
  // wireguard-go sends negative errnos; accept a positive one too (some servers do).
  const negative = errno > 0 ? -errno : errno;
  throw new UapiError(codeOfErrno(negative), `device answered errno=${errno}`, { path: socketPath });
}
