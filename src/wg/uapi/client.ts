/**
 * The UAPI client: talks to any cross-platform userspace API socket (zmesh-wg, zmesh wgd's
 * devices, wireguard-go) the way wg(8) does. Used by networkd and the tests.
 *
 * One connection per call. A set answered with a non-zero errno becomes a UapiError with that
 * errno's code; a connection that fails, times out or answers garbage is -EIO/-ETIMEDOUT/-EPROTO.
 */
import type { SetRequest } from '../config.js';
import { UapiError, codeOfErrno } from './errors.js';
import { formatSetRequest } from './format.js';
import { parseGetResponse } from './parse.js';
import { requestOverSocket } from '../../socket/socket-request.js';
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
    return requestOverSocket(socketPath, requestText, {
      terminator: '\n\n',
      timeoutMs: this.#timeoutMs,
      maxAnswerBytes: this.#maxResponseBytes,
      errors: {
        timeout: () => new UapiError('ETIMEDOUT', `no answer within ${this.#timeoutMs} ms`, { path: socketPath }),
        tooLarge: () =>
          new UapiError('EPROTO', `answer larger than ${this.#maxResponseBytes} bytes`, { path: socketPath }),
        closedEarly: () => new UapiError('EPROTO', 'connection closed before a complete answer', { path: socketPath }),
        socket: (err) =>
          new UapiError(err.code === 'ENOENT' ? 'ENOENT' : 'EIO', `cannot talk to the socket: ${err.code ?? 'error'}`, {
            path: socketPath,
          }),
      },
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
