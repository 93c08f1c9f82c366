/**
 * WgdClient: how networkd (and the tests) drive `zmesh wgd` over its control socket.
 *
 * One connection per call, one request line, one answer line, with a deadline for the whole
 * exchange. Errors are WgdError: the daemon's own code when it refused (EINVAL, EEXIST, ENOENT,
 * EADDRINUSE, EIO), ECONNREFUSED/ENOENT when no wgd serves the socket (a supervisor's cue to
 * start one), ETIMEDOUT when it does not answer in time, EPROTO when it answers something else.
 */
import net from 'node:net';
import { WgdError } from './errors.js';
import { parseAnswer, type CreateResult, type DeleteResult, type DeviceInfo, type PingResult, type ResultOf, type WgdOp } from './protocol.js';

export interface WgdClientOptions {
  /** Whole exchange, connect to answer (creating a device takes milliseconds). */
  readonly timeoutMs?: number;
}

export interface CreateDeviceRequest {
  /** Interface name of the TUN, also the UAPI socket's name (≤ 15 bytes). */
  readonly name: string;
  /** Path of the namespace for the TUN, e.g. /run/netns/n-abc. */
  readonly netns: string;
  readonly mtu?: number;
}

/** Largest answer accepted: a list of a few thousand devices. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export class WgdClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, options: WgdClientOptions = {}) {
    this.socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Creates the device, or returns the existing one when name, netns and MTU match. */
  create(request: CreateDeviceRequest): Promise<CreateResult> {
    return this.#call('create', { name: request.name, netns: request.netns, ...(request.mtu === undefined ? {} : { mtu: request.mtu }) });
  }

  /** Deletes the device (its TUN and UAPI socket); `existed: false` when there was none. */
  delete(name: string): Promise<DeleteResult> {
    return this.#call('delete', { name });
  }

  async list(): Promise<readonly DeviceInfo[]> {
    return (await this.#call('list', {})).devices;
  }

  /** Liveness and identity: a pid that changed means wgd restarted and lost its devices. */
  ping(): Promise<PingResult> {
    return this.#call('ping', {});
  }

  #call<Op extends WgdOp>(op: Op, fields: Record<string, unknown>): Promise<ResultOf[Op]> {
    const line = `${JSON.stringify({ op, ...fields })}\n`;
    return new Promise<ResultOf[Op]>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let settled = false;
      const socket = net.connect(this.socketPath);
      const finish = (error: WgdError | null, result?: ResultOf[Op]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(result!);
      };
      const timer = setTimeout(
        () => finish(new WgdError('ETIMEDOUT', `wgd did not answer ${op} within ${this.#timeoutMs} ms`, { path: this.socketPath })),
        this.#timeoutMs,
      );
      socket.on('connect', () => socket.write(line));
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_ANSWER_BYTES) {
          finish(new WgdError('EPROTO', `answer larger than ${MAX_ANSWER_BYTES} bytes`, { path: this.socketPath }));
          return;
        }
        const newline = chunk.indexOf(0x0a);
        if (newline < 0) {
          chunks.push(chunk);
          return;
        }
        chunks.push(chunk.subarray(0, newline));
        try {
          finish(null, parseAnswer(op, Buffer.concat(chunks).toString('utf8')).result);
        } catch (error) {
          finish(error instanceof WgdError ? error : new WgdError('EPROTO', 'unreadable answer', { path: this.socketPath }));
        }
      });
      socket.on('end', () => finish(new WgdError('EPROTO', 'wgd closed the connection before answering', { path: this.socketPath })));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code === 'ENOENT' ? 'ENOENT' : err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'EIO';
        finish(new WgdError(code, `cannot reach wgd at ${this.socketPath}: ${err.code ?? 'error'}${code === 'EIO' ? '' : ' (is it running?)'}`, { path: this.socketPath }));
      });
    });
  }
}
