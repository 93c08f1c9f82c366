/**
 * The enrolment endpoints of the NRs this node is a via NR for: one HTTP listener per network on
 * the NR's WireGuard address, created inside the NR's namespace and bound to its WireGuard device
 * (native tcpListenInNetns), so only what arrived through the tunnel can connect. The only request
 * is `POST /v1/redeem` with `{ "publicKey": KEY }`; the connection's source address is handed to
 * the decision (netdef/enrolment.ts) as the invitation's identity. Answers are JSON:
 * `{ redeemed: { name, address, redeemedAt } }` or `{ error: { code, message } }`.
 */
import http from 'node:http';
import { native } from '../native/binding.js';
import { readBodyText } from '../http/request-body.js';
import { NetworkdError } from './errors.js';

/** The body is one key: anything longer is not an enrolment request. */
const MAX_BODY_BYTES = 1024;
/** A peer that opens a connection and says nothing is cut after this long. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface EnrolmentListener {
  readonly netnsPath: string;
  readonly device: string;
  readonly address: string;
  readonly port: number;
}

/** What the service answers: a status and a JSON body (never a secret: the request carries none). */
export interface EnrolmentAnswer {
  readonly status: number;
  readonly body: object;
  /** Run once the answer has been handed to the connection (the change that would cut its path). */
  readonly afterSent?: () => void;
}

export type EnrolmentHandler = (network: string, source: string, body: unknown) => Promise<EnrolmentAnswer>;

/** The kernel side, replaceable in tests of the service. */
export interface EnrolmentEndpoints {
  /** Makes sure `network` has exactly this listener (replaced when it changed). */
  ensure(network: string, listener: EnrolmentListener): Promise<void>;
  close(network: string): Promise<void>;
  closeAll(): Promise<void>;
}

interface Open {
  readonly listener: EnrolmentListener;
  readonly server: http.Server;
}

export class HttpEnrolmentEndpoints implements EnrolmentEndpoints {
  readonly #handler: EnrolmentHandler;
  readonly #log: (message: string) => void;
  readonly #open = new Map<string, Open>();

  constructor(handler: EnrolmentHandler, log: (message: string) => void = () => {}) {
    this.#handler = handler;
    this.#log = log;
  }

  async ensure(network: string, listener: EnrolmentListener): Promise<void> {
    const open = this.#open.get(network);
    if (open && sameListener(open.listener, listener) && open.server.listening) return;
    if (open) await this.close(network);
    const fd = native().tcpListenInNetns(listener.netnsPath, listener.address, listener.port, listener.device);
    const server = http.createServer((request, response) => void this.#serve(network, request, response));
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ fd }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      native().closeFd(fd);
      throw error;
    }
    server.on('error', (error) => this.#log(`network ${network}: enrolment endpoint: ${error.message}`));
    this.#open.set(network, { listener, server });
    this.#log(`network ${network}: enrolment endpoint on ${listener.address}:${listener.port} (${listener.device})`);
  }

  async close(network: string): Promise<void> {
    const open = this.#open.get(network);
    if (!open) return;
    this.#open.delete(network);
    open.server.closeAllConnections();
    await new Promise<void>((resolve) => open.server.close(() => resolve()));
  }

  async closeAll(): Promise<void> {
    for (const network of [...this.#open.keys()]) await this.close(network);
  }

  async #serve(network: string, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    let answer: EnrolmentAnswer;
    try {
      if (request.method !== 'POST' || request.url !== '/v1/redeem')
        answer = refusal(404, 'ENOENT', 'the enrolment endpoint serves POST /v1/redeem only');
      else {
        const text = await readBodyText(request, MAX_BODY_BYTES, NetworkdError);
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const source = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
        answer =
          body === undefined
            ? refusal(400, 'EINVAL', 'the request body is not JSON')
            : await this.#handler(network, source, body);
      }
    } catch (error) {
      answer =
        error instanceof NetworkdError
          ? refusal(error.status, error.code, error.message)
          : refusal(500, 'EINTERNAL', 'internal error');
    }
    const text = `${JSON.stringify(answer.body)}\n`;
    response.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text, () => answer.afterSent?.());
  }
}

export function refusal(status: number, code: string, message: string): EnrolmentAnswer {
  return { status, body: { error: { code, message } } };
}

function sameListener(a: EnrolmentListener, b: EnrolmentListener): boolean {
  return a.netnsPath === b.netnsPath && a.device === b.device && a.address === b.address && a.port === b.port;
}
