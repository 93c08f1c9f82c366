/**
 * `zmesh networkd`, put together: identity, store, task log, the WireGuard backend (`--wg`:
 * kernel WireGuard where the kernel has it, else wgd supervision for userspace), the data plane, the service, the first reconcile, the API socket and the
 * periodic reconcile and the aggregator failover monitor. Stopping it (SIGTERM) stops the API and the timers only: the data plane
 * — namespaces, links, kernel devices or wgd and its devices — keeps forwarding until networkd comes back.
 *
 * Layout of the state dir D: identity.key, node.json (zmesh node init); D/networkd/ (0700):
 * networks/, workloads/, tasks.json, wgd.sock, wgd.log, wireguard/ (UAPI sockets when a prefix
 * is set, so simulated nodes on one machine do not share /var/run/wireguard).
 */
import { join } from 'node:path';
import { readTrustState, writeTrustState } from './trusted-keys.js';
import { KernelWgError, wireguardFamilyAvailable } from '../nr/index.js';
import { DEFAULT_UAPI_DIR } from '../wg/wgd/registry.js';
import { Api } from './api.js';
import type { DataPlane } from './data-plane.js';
import { EndpointResolver, type HostResolver, systemResolver } from './endpoint-resolver.js';
import { NetworkdError, invalid } from './errors.js';
import { loadNodeIdentity } from './identity.js';
import { drainReleaseSpool, releaseSpoolDir } from './release-spool.js';
import { parseNetworkName } from './requests.js';
import { NetworkService, type WorkloadLinks } from './service.js';
import { FailoverMonitor } from './failover-monitor.js';
import type { ReconcileReport } from './views.js';
import { Store } from './store.js';
import { HttpEnrolmentEndpoints } from './enrolment-server.js';
import { RedemptionLog } from './redemptions.js';
import { TaskLog } from './task-log.js';
import { WgdSupervisor, selfCommand } from './wgd-supervisor.js';
import { type MetricsAddress, MetricsServer } from '../metrics/server.js';
import { NetworkdMetrics } from './metrics.js';
import { MetricsSampler } from './metrics-sampler.js';
import { networkdSamplerSource } from './metrics-source.js';
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
  /** Whether this kernel has WireGuard (default: ask it through netlink). */
  readonly probeKernelWireGuard?: KernelWireGuardProbe;
  /** Serve Prometheus metrics there (off when absent), sampling the data plane every intervalSeconds. */
  readonly metrics?: { readonly address: MetricsAddress; readonly intervalSeconds: number };
}

/** The WireGuard backend networkd drives: the userspace devices of its wgd, or the kernel's. */
export type WgBackendKind = 'userspace' | 'kernel';

/** What the data plane needs to build its WireGuard backend. */
export type PlaneWg =
  | { readonly kind: 'userspace'; readonly wgd: WgdClient; readonly uapiDir: string }
  | { readonly kind: 'kernel' };

export interface PlaneContext {
  readonly prefix: string;
  readonly wg: PlaneWg;
  readonly log: (message: string) => void;
}

const PREFIX = /^[a-z0-9]{0,8}$/;

/**
 * Answers whether the kernel of networkd's own namespace has WireGuard (the generic netlink
 * family `wireguard` resolves). Throws when it could not be asked (no netlink socket).
 */
export type KernelWireGuardProbe = () => boolean;

/** The real probe: asks nlctrl in this process's namespace, where networkd creates its links. */
export const probeKernelWireGuard: KernelWireGuardProbe = () => wireguardFamilyAvailable(null);

function probeFailure(error: unknown): string {
  // KernelWgError messages carry the operation and errno, never a key; anything else is a bug's text.
  return error instanceof KernelWgError ? error.message : 'the native addon could not be asked';
}

/**
 * The backend for `--wg`: `kernel` insists on kernel WireGuard (an error naming --wg when this
 * kernel does not have it), `userspace` never probes, `auto` takes the kernel's when the probe
 * finds it and the userspace device otherwise (a failing probe is logged, not fatal).
 */
export function chooseBackend(
  choice: WgChoice,
  probe: KernelWireGuardProbe = probeKernelWireGuard,
  log: (message: string) => void = () => {},
): WgBackendKind {
  if (choice === 'userspace') return 'userspace';
  let available: boolean;
  try {
    available = probe();
  } catch (error) {
    if (choice === 'kernel')
      throw invalid(
        '--wg',
        `kernel WireGuard could not be probed: ${probeFailure(error)} (use --wg userspace or auto)`,
      );
    log(`kernel WireGuard could not be probed (${probeFailure(error)}): using userspace`);
    return 'userspace';
  }
  if (available) return 'kernel';
  if (choice === 'kernel') {
    throw invalid(
      '--wg',
      'kernel WireGuard is not available: this kernel has no generic netlink family "wireguard" (load the wireguard module, or use --wg userspace or auto)',
    );
  }
  return 'userspace';
}

/**
 * Releases zmesh-cni spooled while networkd was not answering (release-spool.ts): each is a
 * detach; a workload or network that is already gone counts as released.
 */
async function drainReleases(service: NetworkService, dir: string, log: (message: string) => void): Promise<void> {
  const done = await drainReleaseSpool(dir, async ({ network, workload }) => {
    try {
      await service.detachWorkload(parseNetworkName(network), workload);
      return true;
    } catch (error) {
      if (error instanceof NetworkdError && (error.code === 'ENOENT' || error.code === 'EINVAL')) return true;
      log(
        `spooled release of ${workload} in ${network}: ${error instanceof NetworkdError ? error.message : 'internal error'}; kept for the next reconcile`,
      );
      return false;
    }
  });
  if (done.length > 0) log(`released ${done.length} workload(s) spooled while networkd was not answering`);
}

export class Networkd {
  readonly service: NetworkService;
  readonly socketPath: string;
  readonly #api: Api;
  readonly #timer: NodeJS.Timeout;
  /** null with kernel WireGuard: no wgd then. */
  readonly #supervisor: WgdSupervisor | null;
  readonly firstReconcile: ReconcileReport;
  readonly wgBackend: WgBackendKind;
  readonly #observability: { readonly server: MetricsServer; readonly sampler: MetricsSampler } | null;
  readonly #failover: FailoverMonitor;
  readonly #enrolment: HttpEnrolmentEndpoints;

  private constructor(
    service: NetworkService,
    api: Api,
    socketPath: string,
    timer: NodeJS.Timeout,
    supervisor: WgdSupervisor | null,
    first: ReconcileReport,
    wgBackend: WgBackendKind,
    observability: { readonly server: MetricsServer; readonly sampler: MetricsSampler } | null,
    enrolment: HttpEnrolmentEndpoints,
    failover: FailoverMonitor,
  ) {
    this.#observability = observability;
    this.#enrolment = enrolment;
    this.#failover = failover;
    this.service = service;
    this.#api = api;
    this.socketPath = socketPath;
    this.#timer = timer;
    this.#supervisor = supervisor;
    this.firstReconcile = first;
    this.wgBackend = wgBackend;
  }

  static async start(options: NetworkdOptions): Promise<Networkd> {
    const log = options.log;
    if (!PREFIX.test(options.prefix)) throw invalid('--prefix', 'must be 0-8 characters of a-z and 0-9');
    if (
      !Number.isFinite(options.reconcileIntervalSeconds) ||
      options.reconcileIntervalSeconds < 1 ||
      options.reconcileIntervalSeconds > 86_400
    ) {
      throw invalid('--reconcile-interval', 'must be a number of seconds from 1 to 86400');
    }
    const backend = chooseBackend(options.wg, options.probeKernelWireGuard ?? probeKernelWireGuard, log);
    const { nodeId, identity } = await loadNodeIdentity(options.stateDir);
    const dir = join(options.stateDir, 'networkd');
    const store = Store.open(dir);
    const tasks = TaskLog.open(join(dir, 'tasks.json'));
    // Kernel devices live in the kernel: wgd (the userspace devices' host) is not started then.
    const uapiDir = options.prefix === '' ? DEFAULT_UAPI_DIR : join(dir, 'wireguard');
    const supervisor =
      backend === 'userspace'
        ? new WgdSupervisor({
            controlSocket: join(dir, 'wgd.sock'),
            uapiDir,
            logFile: join(dir, 'wgd.log'),
            command: options.zmeshCommand ?? selfCommand(),
            log,
          })
        : null;
    await supervisor?.ensure();
    const plane = options.createPlane({
      prefix: options.prefix,
      wg: supervisor ? { kind: 'userspace', wgd: supervisor.client, uapiDir } : { kind: 'kernel' },
      log,
    });
    const metrics = options.metrics ? new NetworkdMetrics({ node: nodeId, backend }) : null;
    // The endpoints call the service, which opens and closes them as NRs gain and lose invitations.
    const enrolment: HttpEnrolmentEndpoints = new HttpEnrolmentEndpoints(
      (network, source, body) => service.redeem(network, source, body),
      log,
    );
    const service: NetworkService = new NetworkService({
      redemptions: RedemptionLog.open(join(dir, 'redemptions')),
      enrolment,
      store,
      plane,
      resolver: new EndpointResolver(options.resolveHost ?? systemResolver()),
      nodeId,
      identity,
      trust: {
        read: () => readTrustState(options.stateDir),
        write: (state) => writeTrustState(options.stateDir, state),
      },
      ...(options.workloadLinks ? { workloadLinks: options.workloadLinks } : {}),
      wgdPid: () => supervisor?.pid ?? null,
      beforeReconcile: async () => {
        await supervisor?.ensure();
      },
      log,
      ...(metrics ? { onReconcile: (report: ReconcileReport) => metrics.observeReconcile(report) } : {}),
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
        wg: { backend, wgdPid: supervisor?.pid ?? null },
        lastReconcile: service.lastReconcile,
      }),
      log,
    });
    await api.listen(socketPath);
    const drain = () => drainReleases(service, releaseSpoolDir(socketPath), log);
    await drain();
    let observability: { server: MetricsServer; sampler: MetricsSampler } | null = null;
    if (metrics && options.metrics) {
      const source = networkdSamplerSource(service, store, supervisor?.client ?? null);
      const sampler = new MetricsSampler(
        source,
        options.metrics.intervalSeconds * 1000,
        (sample) => metrics.setSample(sample),
        log,
      );
      const server = await MetricsServer.listen(metrics.registry, options.metrics.address, log).catch(
        async (error: unknown) => {
          await sampler.stop();
          await api.close();
          throw invalid(
            '--metrics',
            `cannot listen on ${options.metrics!.address.host}:${options.metrics!.address.port}: ${(error as Error).message}`,
          );
        },
      );
      observability = { server, sampler };
      log(
        `metrics on http://${server.address.host.includes(':') ? `[${server.address.host}]` : server.address.host}:${server.address.port}/metrics`,
      );
    }
    const timer = setInterval(() => {
      service
        .scheduleReconcile()
        .then(drain)
        .catch((error: unknown) =>
          log(`reconcile failed: ${error instanceof NetworkdError ? error.message : 'internal error'}`),
        );
    }, options.reconcileIntervalSeconds * 1000);
    const failover = new FailoverMonitor({
      service,
      plane,
      log,
      ...(metrics ? { onSwitch: (network, to, reason) => metrics.observeAggregatorSwitch(network, to, reason) } : {}),
    });
    failover.start();
    const wgText = supervisor ? `userspace WireGuard, wgd pid ${supervisor.pid}` : 'kernel WireGuard';
    log(
      `node ${nodeId}: serving ${socketPath}; ${store.networks().length} network(s); first reconcile ${first.steps} step(s) in ${first.ms} ms; ${wgText}`,
    );
    return new Networkd(
      service,
      api,
      socketPath,
      timer,
      supervisor,
      first,
      backend,
      observability,
      enrolment,
      failover,
    );
  }

  /** null with kernel WireGuard (no wgd). */
  get wgdPid(): number | null {
    return this.#supervisor?.pid ?? null;
  }

  /** Where metrics are served (null: off); the port is the bound one. */
  get metricsAddress(): MetricsAddress | null {
    return this.#observability?.server.address ?? null;
  }

  /** Stops the API, the metrics and the periodic reconcile; the data plane and wgd keep running. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#failover.stop();
    await this.#observability?.sampler.stop();
    await this.#observability?.server.close();
    await this.#api.close();
    await this.#enrolment.closeAll();
  }
}
