/**
 * `zmesh provisiond`, put together: the database in the state dir (D/provisiond.db), the queue
 * feeding networkd through its socket, the local API and the optional spool directory.
 * provisiond holds no network state: stopping or killing it never touches the data plane;
 * networkd keeps running and a restart continues the queue from the database.
 */
import { type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';
import { Api } from './api.js';
import { type Db, openStateDatabase } from './database.js';
import { DEFAULT_SOCKET } from './client.js';
import { invalid } from './errors.js';
import { NetworkdHandler } from './networkd-handler.js';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS, TaskQueue } from './queue.js';
import { Spool } from './spool.js';
import { readTrustState } from '../networkd/trusted-keys.js';
import { EtcdStore, parseStoreUrl, StoreEndpoints } from '../store/index.js';
import type { HostResolver } from '../networkd/endpoint-resolver.js';
import { StoreAgent } from './store-agent.js';
import { networkdRedemptions } from './networkd-redemptions.js';
import { type MetricsAddress, MetricsServer } from '../metrics/server.js';
import { ProvisiondMetrics } from './metrics.js';

export interface ProvisiondOptions {
  readonly stateDir: string;
  readonly networkdSocket: string;
  /** The local API socket (default /run/zmesh/provisiond.sock). */
  readonly socket?: string;
  readonly spoolDir?: string;
  readonly concurrency?: number;
  readonly backoff?: BackoffPolicy;
  readonly maxAttempts?: number;
  readonly requestTimeoutMs?: number;
  readonly log: (message: string) => void;
  /** The database failed: the process must exit (a restart recovers). */
  readonly onFatal?: (error: unknown) => void;
  /** Be the store's agent for this node: `etcd://…` URL and node id. */
  readonly store?: { readonly url: string; readonly nodeId: string; readonly nodeStateDir: string };
  /** Resolves the store URL's host names (default node:dns, i.e. /etc/hosts then DNS); tests script it. */
  readonly resolveHost?: HostResolver;
  /** How often the agent resolves the store's names again (default RESOLVE_EVERY_MS). */
  readonly resolveEveryMs?: number;
  /** How often the agent reads networkd's redemptions while an invitation through the node is pending. */
  readonly redemptionPollMs?: number;
  /** Serve Prometheus metrics there (off when absent). */
  readonly metrics?: { readonly address: MetricsAddress };
}

export class Provisiond {
  readonly queue: TaskQueue;
  readonly socketPath: string;
  readonly #db: Db;
  readonly #api: Api;
  readonly #handler: NetworkdHandler;
  readonly #spool: Spool | null;
  readonly agent: StoreAgent | null;
  readonly metricsServer: MetricsServer | null;

  private constructor(
    db: Db,
    queue: TaskQueue,
    api: Api,
    handler: NetworkdHandler,
    spool: Spool | null,
    socketPath: string,
    agent: StoreAgent | null,
    metrics: MetricsServer | null,
    private readonly closeRedemptions: () => void,
  ) {
    this.metricsServer = metrics;
    this.#db = db;
    this.queue = queue;
    this.#api = api;
    this.#handler = handler;
    this.#spool = spool;
    this.socketPath = socketPath;
    this.agent = agent;
  }

  static async start(options: ProvisiondOptions): Promise<Provisiond> {
    for (const [field, value] of [
      ['--state-dir', options.stateDir],
      ['--networkd-socket', options.networkdSocket],
      ['--socket', options.socket],
      ['--spool', options.spoolDir],
    ] as const) {
      if (value !== undefined && !value.startsWith('/')) throw invalid(field, 'must be an absolute path');
    }
    const location = options.store ? parseStoreUrl(options.store.url) : null;
    if (location && location.kind !== 'etcd')
      throw invalid('--store', "the agent watches an etcd store (etcd://HOST:PORT,…); a file: store is the tool's own");
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)
      throw invalid('--concurrency', 'must be an integer from 1 to 1024');
    const db = openStateDatabase(options.stateDir);
    const handler = new NetworkdHandler({
      socketPath: options.networkdSocket,
      maxSockets: concurrency,
      ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}),
    });
    let agent: StoreAgent | null = null;
    let redemptions: ReturnType<typeof networkdRedemptions> | null = null;
    let queue: TaskQueue | null = null;
    const metrics = options.metrics
      ? new ProvisiondMetrics(() => queue!.store.counts(), options.store ? () => agent : null)
      : null;
    queue = new TaskQueue({
      db,
      handler: metrics ? metrics.timed(handler.handle) : handler.handle,
      concurrency,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      log: options.log,
      ...(options.onFatal ? { onFatal: options.onFatal } : {}),
    });
    const socketPath = options.socket ?? DEFAULT_SOCKET;
    const store = () =>
      agent ? { connected: agent.phase === 'watching', cursor: agent.cursor, revisions: agent.revisions() } : null;
    const api = new Api({
      queue,
      health: () => ({ networkdSocket: options.networkdSocket, store: store() }),
      log: options.log,
    });
    try {
      await api.listen(socketPath);
    } catch (error) {
      db.close();
      handler.close();
      throw error;
    }
    const { recovered } = queue.start();
    const spool = options.spoolDir ? await Spool.start({ dir: options.spoolDir, queue, log: options.log }) : null;
    const counts = queue.store.counts();
    options.log(
      `serving ${socketPath}; networkd at ${options.networkdSocket}; ${counts.pending + counts.running} task(s) to do (${recovered} recovered from a crash)${spool ? `; spool ${spool.dir}` : ''}`,
    );
    if (location?.kind === 'etcd' && options.store) {
      const endpoints = new StoreEndpoints(location.endpoints, options.log, options.resolveHost);
      const store = new EtcdStore(location, { endpoints });
      const nodeStateDir = options.store.nodeStateDir;
      redemptions = networkdRedemptions(options.networkdSocket);
      agent = new StoreAgent({
        redemptions: redemptions.read,
        ...(options.redemptionPollMs ? { redemptionPollMs: options.redemptionPollMs } : {}),
        store,
        nodeId: options.store.nodeId,
        db,
        queue,
        log: options.log,
        trustedKeys: () => readTrustState(nodeStateDir),
        ...(options.resolveEveryMs ? { resolveEveryMs: options.resolveEveryMs } : {}),
      });
      agent.start();
      options.log(
        `store agent for node "${options.store.nodeId}": ${location.endpoints.join(',')}, from revision ${agent.cursor}`,
      );
    }
    let server: MetricsServer | null = null;
    if (metrics && options.metrics) {
      server = await MetricsServer.listen(metrics.registry, options.metrics.address, options.log);
      options.log(`metrics on port ${server.address.port}`);
    }
    return new Provisiond(db, queue, api, handler, spool, socketPath, agent, server, () => redemptions?.close());
  }

  /** Stops taking tasks, lets attempts in flight be recorded (up to graceMs), closes the database. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#spool?.close();
    await this.metricsServer?.close();
    await this.agent?.stop();
    await this.#api.close();
    await this.queue.stop(graceMs);
    this.#handler.close();
    this.closeRedemptions();
    this.#db.close();
  }
}
