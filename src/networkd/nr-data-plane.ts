/**
 * The one file that wires networkd's DataPlane to src/nr: NetworkResources (plan → diff →
 * apply in the kernel) with the WireGuard backend chosen by `--wg` — the userspace one driving
 * `zmesh wgd`, or kernel WireGuard through the native addon. Also turns
 * NrError into NetworkdError (their messages name steps and namespaces, never keys) and the
 * backend's device status into the API's peer status (handshake age instead of a timestamp).
 */
import { readdirSync } from 'node:fs';
import {
  KernelWgBackend,
  NetworkResources,
  NrError,
  UserspaceWgBackend,
  type WgBackend,
  RUN_NETNS_DIR,
  isOwnedNamespace,
  ndmzNamespaceName,
  netIdOfNamespace,
  netIdOfWgDevice,
  netnsPathOf,
  nrNamespaceName,
  parseNetId,
  parsePrefix,
  wgDeviceName,
  type Prefix,
} from '../nr/index.js';
import type { PlaneContext, PlaneWg } from './daemon.js';
import type { DataPlane, NrStatus } from './data-plane.js';
import { NetworkdError } from './errors.js';

function asNetworkd(error: unknown): never {
  if (error instanceof NrError) {
    throw new NetworkdError(error.code === 'EWG' ? 'EUNAVAILABLE' : 'EKERNEL', error.message, {}, { cause: error });
  }
  throw error;
}

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    return asNetworkd(error);
  }
}

/**
 * This networkd's NR namespaces (`<prefix>n-<netId>`): the only places its kernel devices live.
 * Simulated nodes share one machine and name their devices alike (`w-<netId>`), so a backend
 * that looked in every namespace would find — and garbage-collect — another node's.
 */
function ownNrNamespacePaths(prefix: Prefix): () => string[] {
  return () => {
    let names: string[];
    try {
      names = readdirSync(RUN_NETNS_DIR);
    } catch {
      return [];
    }
    return names.filter((name) => netIdOfNamespace(prefix, name) !== null).map(netnsPathOf);
  };
}

function wgBackendFor(prefix: Prefix, wg: PlaneWg): WgBackend {
  // Kernel links are created through networkd's own namespace (the node's): their UDP sockets stay there.
  if (wg.kind === 'kernel')
    return new KernelWgBackend({ nodeNetnsPath: null, netnsPaths: ownNrNamespacePaths(prefix) });
  return new UserspaceWgBackend({ wgd: wg.wgd });
}

export function createNrDataPlane(context: PlaneContext): DataPlane {
  const prefix = parsePrefix(context.prefix);
  const wg = wgBackendFor(prefix, context.wg);
  const resources = new NetworkResources({ prefix, wg });
  return {
    wgBackend: wg.kind,
    ensureNdmz: () =>
      mapped(async () => {
        await resources.ensureNdmz();
      }),
    applyNr: (spec) =>
      mapped(async () => {
        // Endpoints in spec.resource are numeric already (networkd's DNS cache), so nothing to resolve here.
        const result = await resources.applyNr(spec.resource, {
          publicAddress: spec.publicAddress,
          privateKey: spec.privateKey,
          workloadAddresses: spec.workloadAddresses,
        });
        return { steps: result.steps.length };
      }),
    removeNr: (netId) =>
      mapped(async () => {
        await resources.removeNr(parseNetId(netId));
      }),
    listNrs: () => mapped(async () => resources.listNrs().map(String)),
    ownNamespaces: () => {
      let names: string[];
      try {
        names = readdirSync(RUN_NETNS_DIR);
      } catch {
        names = [];
      }
      const ndmz = ndmzNamespaceName(prefix);
      return [ndmz, ...names.filter((name) => name !== ndmz && isOwnedNamespace(prefix, name))].map((name) => ({
        path: netnsPathOf(name),
        what: name === ndmz ? `this node's ndmz namespace (${name})` : `the NR namespace ${name}`,
      }));
    },
    nrNetnsPath: (netId) => netnsPathOf(nrNamespaceName(prefix, parseNetId(netId))),
    inspectNr: (netId) =>
      mapped(async (): Promise<NrStatus> => {
        const id = parseNetId(netId);
        const namespace = nrNamespaceName(prefix, id);
        const exists = resources.listNrs().includes(id);
        const status = exists ? await wg.status(wgDeviceName(id)) : null;
        const now = Date.now() / 1000;
        return {
          namespace,
          exists,
          device: status
            ? {
                name: status.name,
                listenPort: status.listenPort,
                peers: status.peers.map((p) => ({
                  publicKey: p.publicKey,
                  endpoint: p.endpoint,
                  lastHandshakeAgeSeconds:
                    p.lastHandshake === null ? null : Math.max(0, Math.round(now - p.lastHandshake)),
                  rxBytes: p.rxBytes,
                  txBytes: p.txBytes,
                })),
              }
            : null,
        };
      }),
    removeUnwantedDevices: (wanted) =>
      mapped(async () => {
        const removed: string[] = [];
        for (const name of await wg.listDevices()) {
          const netId = netIdOfWgDevice(name);
          if (netId === null || wanted.has(netId)) continue;
          await wg.removeDevice(name);
          removed.push(name);
        }
        return removed;
      }),
    teardownAll: () =>
      mapped(async () => {
        await resources.teardownAll();
      }),
  };
}
