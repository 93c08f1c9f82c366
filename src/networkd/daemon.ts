/**
 * `zmesh networkd`, put together: identity, store, task log, WireGuard backend (wgd
 * supervision), the data plane, the service, the first reconcile, the API socket and the
 * periodic reconcile. Stopping it (SIGTERM) stops the API and the timer only: the data plane
 * — namespaces, links, wgd and its devices — keeps forwarding until networkd comes back.
 *
 * Layout of the state dir D: identity.key, node.json (zmesh node init); D/networkd/ (0700):
 * networks/, workloads/, tasks.json, wgd.sock, wgd.log, wireguard/ (UAPI sockets when a prefix
 * is set, so simulated nodes on one machine do not share /var/run/wireguard).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_UAPI_DIR } from '../wg/wgd/registry.js';
import { Api } from './api.js';
import type { DataPlane } from './data-plane.js';
import { EndpointResolver, type HostResolver, systemResolver } from './endpoint-resolver.js';
import { NetworkdError, invalid } from './errors.js';
import { loadNodeIdentity } from './identity.js';
import { NetworkService, type ReconcileReport, type WorkloadLinks } from './service.js';
import { Store } from './store.js';
import { TaskLog } from './task-log.js';
import { WgdSupervisor, selfCommand } from './wgd-supervisor.js';
import type { WgdClient } from '../wg/wgd/client.js';

export type WgChoice = 'auto' | 'kernel' | 'userspace';

export interface NetworkdOptions {
  readonly stateDir: string;
  readonly prefix: string;
  readonly wg: WgChoice;
  /** Default D/networkd.sock. */
  readonly socket?: string;
  readonly reconcileIntervalSeconds: number;
  readonly log: (message: string) => void;
  /** Builds the data plane (nr-data-plane.ts in production). */
  readonly createPlane: (context: PlaneContext) => DataPlane;
  /** How to run `zmesh` for wgd (default: the way this process was started). */
  readonly zmeshCommand?: readonly string[];
  readonly resolveHost?: HostResolver;
  readonly workloadLinks?: WorkloadLinks;
}

export interface PlaneContext {
  readonly prefix: string;
  readonly wgd: WgdClient;
  readonly uapiDir: string;
  readonly log: (message: string) => void;
}

const PREFIX = /^[a-z0-9]{0,8}$/;

/** Kernel WireGuard needs the generic-netlink family `wireguard`: present only when the module is loaded. */
function kernelWireGuardPresent(): boolean {
  return existsSync('/sys/module/wireguard');
}

/**
 * The backend for `--wg`. The kernel backend is a later issue: `kernel` is refused, and `auto`
 * is userspace even where the module exists (networkd cannot drive it yet; the log says so).
 */
export function chooseBackend(choice: WgChoice, log: (message: string) => void = () => {}): 'userspace' {
  if (choice === 'kernel') throw invalid('--wg', 'kernel WireGuard backend not available (use --wg userspace or auto)');
  if (choice === 'auto' && kernelWireGuardPresent()) log('kernel WireGuard is present, but its backend is not implemented yet: using userspace');
  return 'userspace';
}

export class Networkd {
  readonly service: NetworkService;
  readonly socketPath: string;
  readonly #api: Api;
  readonly #timer: NodeJS.Timeout;
  readonly #supervisor: WgdSupervisor;
  readonly firstReconcile: ReconcileReport;

  private constructor(service: NetworkService, api: Api, socketPath: string, timer: NodeJS.Timeout, supervisor: WgdSupervisor, first: ReconcileReport) {
    this.service = service;
    this.#api = api;
    this.socketPath = socketPath;
    this.#timer = timer;
    this.#supervisor = supervisor;
    this.firstReconcile = first;
  }

  static async start(options: NetworkdOptions): Promise<Networkd> {
    const log = options.log;
    if (!PREFIX.test(options.prefix)) throw invalid('--prefix', 'must be 0-8 characters of a-z and 0-9');
    if (!Number.isFinite(options.reconcileIntervalSeconds) || options.reconcileIntervalSeconds < 1 || options.reconcileIntervalSeconds > 86_400) {
      throw invalid('--reconcile-interval', 'must be a number of seconds from 1 to 86400');
    }
    const backend = chooseBackend(options.wg, log);
    const { nodeId, identity } = await loadNodeIdentity(options.stateDir);
    const dir = join(options.stateDir, 'networkd');
    const store = Store.open(dir);
    const tasks = TaskLog.open(join(dir, 'tasks.json'));
    const uapiDir = options.prefix === '' ? DEFAULT_UAPI_DIR : join(dir, 'wireguard');
    const supervisor = new WgdSupervisor({
      controlSocket: join(dir, 'wgd.sock'),
      uapiDir,
      logFile: join(dir, 'wgd.log'),
      command: options.zmeshCommand ?? selfCommand(),
      log,
    });
    await supervisor.ensure();
    const plane = options.createPlane({ prefix: options.prefix, wgd: supervisor.client, uapiDir, log });
    const service = new NetworkService({
      store,
      plane,
      resolver: new EndpointResolver(options.resolveHost ?? systemResolver()),
      nodeId,
      identity,
      ...(options.workloadLinks ? { workloadLinks: options.workloadLinks } : {}),
      beforeReconcile: async () => {
        await supervisor.ensure();
      },
      log,
    });
    const first = await service.reconcile();
    const socketPath = options.socket ?? join(options.stateDir, 'networkd.sock');
    const api = new Api({
      service,
      tasks,
      health: () => ({
        ok: true,
        pid: process.pid,
        node: nodeId,
        prefix: options.prefix,
        wg: { backend, wgdPid: supervisor.pid },
        lastReconcile: service.lastReconcile,
      }),
      log,
    });
    await api.listen(socketPath);
    const timer = setInterval(() => {
      service.scheduleReconcile().catch((error: unknown) => log(`reconcile failed: ${error instanceof NetworkdError ? error.message : 'internal error'}`));
    }, options.reconcileIntervalSeconds * 1000);
    log(`node ${nodeId}: serving ${socketPath}; ${store.networks().length} network(s); first reconcile ${first.steps} step(s) in ${first.ms} ms; wgd pid ${supervisor.pid}`);
    return new Networkd(service, api, socketPath, timer, supervisor, first);
  }

  get wgdPid(): number | null {
    return this.#supervisor.pid;
  }

  /** Stops the API and the periodic reconcile; the data plane and wgd keep running. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#api.close();
  }
}
