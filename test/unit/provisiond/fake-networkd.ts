/**
 * A networkd stand-in the tests control: a real HTTP server on a UNIX socket speaking networkd's
 * API shape (status + `{ error: { code, message } }`, X-Task-Id replay with x-task-replayed),
 * whose answers a test scripts. It records every request and counts executions per task id
 * (a replayed answer is not an execution), which is what "done once" is measured by.
 */
import http from 'node:http';

export interface FakeRequest {
  readonly taskId: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly startedAt: number;
  finishedAt: number | null;
  replayed: boolean;
}

export interface FakeReply {
  readonly status: number;
  readonly body?: unknown;
  /** Delay before answering (ms). */
  readonly delayMs?: number;
  /** Destroy the connection instead of answering. */
  readonly hangUp?: boolean;
}

export type Behaviour = (request: FakeRequest, executionsBefore: number) => FakeReply | Promise<FakeReply>;

export const okBehaviour: Behaviour = (request) => ({ status: 200, body: { ok: true, path: request.path } });

export class FakeNetworkd {
  readonly requests: FakeRequest[] = [];
  readonly executions = new Map<string, number>();
  readonly #recorded = new Map<string, { status: number; body: unknown }>();
  readonly #server: http.Server;
  behaviour: Behaviour;
  inFlight = 0;
  maxInFlight = 0;

  private constructor(behaviour: Behaviour) {
    this.behaviour = behaviour;
    this.#server = http.createServer((req, res) => void this.#handle(req, res));
  }

  static async start(socketPath: string, behaviour: Behaviour = okBehaviour): Promise<FakeNetworkd> {
    const fake = new FakeNetworkd(behaviour);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(socketPath, () => resolve());
    });
    return fake;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const taskId = req.headers['x-task-id'] as string | undefined;
    const request: FakeRequest = {
      taskId,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body: text ? JSON.parse(text) : undefined,
      startedAt: performance.now(),
      finishedAt: null,
      replayed: false,
    };
    this.requests.push(request);
    const recorded = taskId === undefined ? undefined : this.#recorded.get(taskId);
    if (recorded) {
      request.replayed = true;
      request.finishedAt = performance.now();
      res.writeHead(recorded.status, { 'content-type': 'application/json', 'x-task-replayed': 'true' });
      res.end(JSON.stringify(recorded.body));
      return;
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const before = taskId === undefined ? 0 : (this.executions.get(taskId) ?? 0);
      const reply = await this.behaviour(request, before);
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (reply.hangUp) {
        request.finishedAt = performance.now();
        res.destroy();
        return;
      }
      // Like networkd: a 5xx is not an execution that counts (nothing was recorded, a retry redoes it).
      if (reply.status < 500 && taskId !== undefined) {
        this.executions.set(taskId, before + 1);
        this.#recorded.set(taskId, { status: reply.status, body: reply.body ?? null });
      }
      request.finishedAt = performance.now();
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body ?? null));
    } finally {
      this.inFlight--;
    }
  }
}
