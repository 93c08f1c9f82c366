// The simulated world's client of one node's networkd API: HTTP+JSON over its UNIX socket
// (PUT/GET/DELETE /v1/networks/{name}, POST/DELETE .../workloads, GET /v1/health). It speaks the
// API exactly as an operator's tool would, and turns an error answer into a SimError that names
// the node, the request and networkd's own message.
import { UnixHttpClient } from '../http/client.js';
import type { NetworkListView, NetworkView } from '../networkd/views.js';
import { SimError } from './errors.js';

export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** What networkd answers to an attach (the fields the world relies on). */
export interface AttachAnswer {
  readonly ip: string;
  readonly gateway: string;
  readonly mtu?: number;
}

export class NetworkdApi {
  readonly #http: UnixHttpClient;

  constructor(
    readonly socketPath: string,
    /** For messages: which node this is. */
    readonly node: string,
  ) {
    this.#http = new UnixHttpClient({ socketPath });
  }

  /** One request; resolves with any HTTP status (rejects only when the socket cannot be reached). */
  async raw(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<ApiAnswer> {
    const answer = await this.#http.request(method, path, { timeoutMs, ...(body === undefined ? {} : { body }) });
    // Not JSON: keep the text.
    return { status: answer.status, body: answer.body === undefined ? answer.text : answer.body };
  }

  /** A request that must succeed (2xx); resolves with the body. */
  async call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<unknown> {
    let answer: ApiAnswer;
    try {
      answer = await this.raw(method, path, body, timeoutMs);
    } catch (e) {
      const message = `${this.node}: ${method} ${path}: networkd unreachable at ${this.socketPath}: ${(e as Error).message}`;
      throw new SimError('NETWORKD_FAILED', message, { node: this.node, method, path });
    }
    if (answer.status < 200 || answer.status > 299) {
      throw new SimError(
        'NETWORKD_FAILED',
        `${this.node}: ${method} ${path} answered ${answer.status}: ${describeBody(answer.body)}`,
        {
          node: this.node,
          method,
          path,
          status: answer.status,
        },
      );
    }
    return answer.body;
  }

  async healthy(): Promise<boolean> {
    try {
      const a = await this.raw('GET', '/v1/health', undefined, 2_000);
      return a.status === 200;
    } catch {
      return false;
    }
  }

  applyNetwork(name: string, definition: unknown): Promise<unknown> {
    return this.call('PUT', `/v1/networks/${encodeURIComponent(name)}`, definition, 60_000);
  }

  deleteNetwork(name: string): Promise<unknown> {
    return this.call('DELETE', `/v1/networks/${encodeURIComponent(name)}`, undefined, 60_000);
  }

  async getNetwork(name: string): Promise<NetworkView> {
    return (await this.call('GET', `/v1/networks/${encodeURIComponent(name)}`)) as NetworkView;
  }

  async listNetworks(): Promise<NetworkListView> {
    return (await this.call('GET', '/v1/networks')) as NetworkListView;
  }

  async attach(network: string, workload: string, netns: string, ifname: string, ip?: string): Promise<AttachAnswer> {
    const body = await this.call('POST', `/v1/networks/${encodeURIComponent(network)}/workloads`, {
      workload,
      netns,
      ifname,
      ...(ip === undefined ? {} : { ip }),
    });
    const b = body as Partial<AttachAnswer> | null;
    if (!b || typeof b.ip !== 'string' || typeof b.gateway !== 'string') {
      throw new SimError(
        'NETWORKD_FAILED',
        `${this.node}: attach ${workload} answered without ip/gateway: ${describeBody(body)}`,
        { node: this.node },
      );
    }
    // networkd may answer the address with or without its prefix length.
    return {
      ip: b.ip.split('/')[0] as string,
      gateway: b.gateway.split('/')[0] as string,
      ...(b.mtu === undefined ? {} : { mtu: b.mtu }),
    };
  }

  detach(network: string, workload: string): Promise<unknown> {
    return this.call('DELETE', `/v1/networks/${encodeURIComponent(network)}/workloads/${encodeURIComponent(workload)}`);
  }
}

function describeBody(body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; message?: unknown };
    const err = b.error && typeof b.error === 'object' ? (b.error as { message?: unknown }).message : b.error;
    const msg = typeof b.message === 'string' ? b.message : typeof err === 'string' ? err : undefined;
    if (msg) return msg;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
