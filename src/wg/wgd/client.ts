/**
 * WgdClient: how networkd (and the tests) drive `zmesh wgd` over its control socket.
 *
 * One connection per call, one request line, one answer line, with a deadline for the whole
 * exchange. Errors are WgdError: the daemon's own code when it refused (EINVAL, EEXIST, ENOENT,
 * EADDRINUSE, EIO), ECONNREFUSED/ENOENT when no wgd serves the socket (a supervisor's cue to
 * start one), ETIMEDOUT when it does not answer in time, EPROTO when it answers something else.
 */
import { requestOverSocket } from '../../socket/socket-request.js';
import { WgdError } from './errors.js';
import {
  parseAnswer,
  type CreateResult,
  type DeleteManyResult,
  type DeleteResult,
  type DeviceInfo,
  type PingResult,
  type ResultOf,
  type WgdOp,
} from './protocol.js';

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
    return this.#call('create', {
      name: request.name,
      netns: request.netns,
      ...(request.mtu === undefined ? {} : { mtu: request.mtu }),
    });
  }

  /** Deletes the device (its TUN and UAPI socket); `existed: false` when there was none. */
  delete(name: string): Promise<DeleteResult> {
    return this.#call('delete', { name });
  }

  /**
   * Deletes the devices as one burst: wgd lets go of their TUNs together, so the kernel destroys
   * their deleted namespaces in one cleanup. A wgd older than the op refuses it with EINVAL.
   */
  deleteMany(names: readonly string[]): Promise<DeleteManyResult> {
    return this.#call('delete-many', { names });
  }

  async list(): Promise<readonly DeviceInfo[]> {
    return (await this.#call('list', {})).devices;
  }

  /** Liveness and identity: a pid that changed means wgd restarted and lost its devices. */
  ping(): Promise<PingResult> {
    return this.#call('ping', {});
  }

  async #call<Op extends WgdOp>(op: Op, fields: Record<string, unknown>): Promise<ResultOf[Op]> {
    const path = this.socketPath;
    const answer = await requestOverSocket(path, `${JSON.stringify({ op, ...fields })}\n`, {
      terminator: '\n',
      timeoutMs: this.#timeoutMs,
      maxAnswerBytes: MAX_ANSWER_BYTES,
      errors: {
        timeout: () => new WgdError('ETIMEDOUT', `wgd did not answer ${op} within ${this.#timeoutMs} ms`, { path }),
        tooLarge: () => new WgdError('EPROTO', `answer larger than ${MAX_ANSWER_BYTES} bytes`, { path }),
        closedEarly: () => new WgdError('EPROTO', 'wgd closed the connection before answering', { path }),
        socket: (err) => {
          const code = err.code === 'ENOENT' ? 'ENOENT' : err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'EIO';
          return new WgdError(
            code,
            `cannot reach wgd at ${path}: ${err.code ?? 'error'}${code === 'EIO' ? '' : ' (is it running?)'}`,
            { path },
          );
        },
      },
    });
    try {
      return parseAnswer(op, answer.slice(0, -1)).result;
    } catch (error) {
      throw error instanceof WgdError ? error : new WgdError('EPROTO', 'unreadable answer', { path });
    }
  }
}
