/**
 * `KernelWgBackend`: networkd's WgBackend over kernel WireGuard. Owns where each device lives
 * (the NR namespace it was ensured in, or found in by listDevices) and the difference between a
 * device's configuration and the desired one, so that `configure` sends only what differs — a
 * peer that did not change keeps its session, counters and roamed endpoint.
 *
 * Links are created through a socket of the node's namespace straight into the NR's: the
 * device's UDP socket stays in the node's namespace, so the mesh never routes its own underlay.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WgBackend, WgDesiredConfig, WgDeviceStatus, WgPeerStatus } from '../backend.js';
import { native } from '../../../native/binding.js';
import { createLink, deleteLink, getDevice, listLinks, setDevice } from './device.js';
import type { KernelDevice, KernelPeerSet } from './types.js';
import { KernelWgError, fromAddon } from './errors.js';

export interface KernelWgBackendOptions {
  /** The node's namespace, through which links are created (their UDP sockets live there); null: this process's. */
  readonly nodeNetnsPath?: string | null;
  /**
   * The namespaces where this node's devices may live, for listDevices (default: every
   * namespace under /run/netns). networkd passes its own NR namespaces, so that simulated nodes
   * sharing a machine never list each other's devices.
   */
  readonly netnsPaths?: () => readonly string[];
}

const RUN_NETNS = '/run/netns';

function allNamedNamespaces(): string[] {
  try {
    return readdirSync(RUN_NETNS).map((n) => join(RUN_NETNS, n));
  } catch {
    return [];
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/** The changes that turn `current` into `desired` (empty peers and no device field: nothing to do). */
export function configurationDiff(
  current: KernelDevice,
  desired: WgDesiredConfig,
): { set: Parameters<typeof setDevice>[2]; changes: number } {
  let changes = 0;
  const set: { privateKey?: WgDesiredConfig['privateKey']; listenPort?: number; peers: KernelPeerSet[] } = {
    peers: [],
  };
  if (current.publicKey !== desired.publicKey) {
    set.privateKey = desired.privateKey;
    changes++;
  }
  if (desired.listenPort !== 0 && current.listenPort !== desired.listenPort) {
    set.listenPort = desired.listenPort;
    changes++;
  }
  const wanted = new Set(desired.peers.map((p) => p.publicKey));
  // Removals first, so an allowed IP moving to another peer is never claimed twice.
  for (const peer of current.peers) {
    if (!wanted.has(peer.publicKey)) set.peers.push({ publicKey: peer.publicKey, remove: true });
  }
  const have = new Map(current.peers.map((p) => [p.publicKey, p]));
  for (const peer of desired.peers) {
    const existing = have.get(peer.publicKey);
    if (!existing) {
      set.peers.push({
        publicKey: peer.publicKey,
        ...(peer.endpoint !== null ? { endpoint: peer.endpoint } : {}),
        persistentKeepalive: peer.persistentKeepalive,
        replaceAllowedIps: true,
        allowedIps: peer.allowedIps,
      });
      continue;
    }
    const change: { -readonly [K in keyof KernelPeerSet]: KernelPeerSet[K] } = {
      publicKey: peer.publicKey,
      updateOnly: true,
    };
    let differs = false;
    // A null endpoint means "the peer dials in": keep whatever it roamed to.
    if (peer.endpoint !== null && existing.endpoint !== peer.endpoint) {
      change.endpoint = peer.endpoint;
      differs = true;
    }
    if (existing.persistentKeepalive !== peer.persistentKeepalive) {
      change.persistentKeepalive = peer.persistentKeepalive;
      differs = true;
    }
    if (!sameSet(existing.allowedIps, peer.allowedIps)) {
      change.replaceAllowedIps = true;
      change.allowedIps = peer.allowedIps;
      differs = true;
    }
    if (existing.presharedKey !== null) {
      change.presharedKey = null; // zmesh uses none
      differs = true;
    }
    if (differs) set.peers.push(change);
  }
  changes += set.peers.length;
  return { set, changes };
}

export class KernelWgBackend implements WgBackend {
  readonly kind = 'kernel' as const;
  private readonly nodeNetnsPath: string | null;
  private readonly netnsPaths: () => readonly string[];
  /** Device name → the namespace it lives in. */
  private readonly locations = new Map<string, string>();

  constructor(options: KernelWgBackendOptions = {}) {
    this.nodeNetnsPath = options.nodeNetnsPath ?? null;
    this.netnsPaths = options.netnsPaths ?? allNamedNamespaces;
  }

  async ensureDevice(name: string, nrNetnsPath: string, mtu: number): Promise<void> {
    if (!listLinks(nrNetnsPath).includes(name)) {
      createLink(name, this.nodeNetnsPath, nrNetnsPath, mtu);
    } else {
      try {
        native().setLinkMtu(nrNetnsPath, name, mtu);
      } catch (err) {
        throw fromAddon(err, { operation: 'set MTU', device: name, netnsPath: nrNetnsPath });
      }
    }
    this.locations.set(name, nrNetnsPath);
  }

  async configure(name: string, config: WgDesiredConfig): Promise<void> {
    const where = this.locate(name);
    if (where === null) {
      throw new KernelWgError('ENODEV', 19, `kernel WireGuard configure: no device '${name}' (ensureDevice first)`, {
        operation: 'configure',
        device: name,
      });
    }
    const { set, changes } = configurationDiff(getDevice(where, name), config);
    if (changes > 0) setDevice(where, name, set);
  }

  async status(name: string): Promise<WgDeviceStatus | null> {
    const where = this.locate(name);
    if (where === null) return null;
    let device: KernelDevice;
    try {
      device = getDevice(where, name);
    } catch (err) {
      if (err instanceof KernelWgError && err.code === 'ENODEV') {
        this.locations.delete(name);
        return null;
      }
      throw err;
    }
    return {
      name,
      publicKey: device.publicKey,
      listenPort: device.listenPort,
      peers: device.peers.map(
        (p): WgPeerStatus => ({
          publicKey: p.publicKey,
          endpoint: p.endpoint,
          allowedIps: p.allowedIps,
          persistentKeepalive: p.persistentKeepalive,
          lastHandshake: p.lastHandshake === null ? null : Math.floor(p.lastHandshake),
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
        }),
      ),
    };
  }

  /** One by one: a link in a deleted namespace is the kernel's already, the rest are deleted each. */
  async removeDevices(names: readonly string[]): Promise<void> {
    for (const name of names) await this.removeDevice(name);
  }

  async removeDevice(name: string): Promise<void> {
    const where = this.locate(name);
    if (where === null) return;
    if (!existsSync(where)) {
      // Its namespace was deleted: the link goes with the namespace's others, in one batch.
      this.locations.delete(name);
      return;
    }
    try {
      deleteLink(name, where);
    } catch (err) {
      if (!(err instanceof KernelWgError && err.code === 'ENODEV')) throw err;
    }
    this.locations.delete(name);
  }

  async listDevices(): Promise<string[]> {
    const names: string[] = [];
    for (const path of this.netnsPaths()) {
      let links: string[];
      try {
        links = listLinks(path);
      } catch (err) {
        // A namespace deleted while we looked is simply gone.
        if (err instanceof KernelWgError && err.code === 'ENOENT') continue;
        throw err;
      }
      for (const link of links) {
        this.locations.set(link, path);
        names.push(link);
      }
    }
    return names;
  }

  /** Where the device lives: remembered, or found by looking through the namespaces. */
  private locate(name: string): string | null {
    const known = this.locations.get(name);
    if (known !== undefined) return known;
    for (const path of this.netnsPaths()) {
      try {
        if (listLinks(path).includes(name)) {
          this.locations.set(name, path);
          return path;
        }
      } catch {
        // gone meanwhile
      }
    }
    return null;
  }
}
