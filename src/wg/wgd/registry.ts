/**
 * The device registry of `zmesh wgd`: which userspace WireGuard devices this process hosts, each
 * with its UAPI socket `<uapiDir>/<name>.sock`.
 *
 * Owns the rules of create and delete: create is idempotent (same name, namespace and MTU: the
 * existing device is returned; a different namespace or MTU: EEXIST naming the field), delete of a
 * missing device is fine (`existed: false`), and a failed create leaves nothing behind (no TUN, no
 * socket, no entry). Changes are serialised, so two creates of one name cannot race. A device
 * leaves the registry by itself when its TUN or namespace disappears (the device's onGone) or when
 * its UAPI socket file is deleted (as a zmesh-wg or wireguard-go process would exit).
 *
 * How a device is opened is given by the caller (open-device.ts opens the real one: TUN in the
 * NR namespace, UDP sockets in wgd's own), so the registry's rules do not depend on namespaces.
 */
import path from 'node:path';
import { WG_MTU } from '../../netdef/addressing.js';
import { UapiError } from '../uapi/errors.js';
import { UapiServer, type UapiDevice } from '../uapi/server.js';
import type { DeviceView } from '../uapi/view.js';
import { WgdError } from './errors.js';
import { releaseHeldTunsNow } from '../tun-release.js';
import type { CreateResult, DeleteManyResult, DeleteResult, DeviceInfo, DeviceName, NetnsPath } from './protocol.js';

export const DEFAULT_UAPI_DIR = '/var/run/wireguard';

/** A device as the registry needs it: configurable over UAPI, with a port, closable. */
export interface HostedDevice extends UapiDevice {
  /** Synchronous here, so that `list` can count peers without waiting on a device. */
  get(): DeviceView;
  readonly listenPort: number;
  /** Drop counters by reason (data plane and handshake), for `list` and networkd's metrics. */
  drops?(): { dataplane: Record<string, number>; handshake: Record<string, number> };
  /** Stops the device; its TUN goes with its fd. Idempotent. */
  close(): void;
  /** Settles when, after close, the device holds nothing of its namespace (absent: at close). */
  readonly released?: Promise<void>;
  /** Lets the device begin to stop without waiting; close() must follow (a burst waits for all at once). */
  beginClose?(): void;
}

export interface DeviceSpec {
  readonly name: DeviceName;
  readonly netns: NetnsPath;
  readonly mtu: number;
  /** To be called once if the device stops by itself (TUN or namespace removed). */
  readonly onGone: (reason: string) => void;
}

/** Opens a device, or throws a WgdError naming the field at fault; on failure nothing is left open. */
export type OpenDevice = (spec: DeviceSpec) => Promise<HostedDevice>;

export interface RegistryOptions {
  readonly uapiDir: string;
  readonly openDevice: OpenDevice;
  /** Events for the daemon's log: created, deleted, gone (no secrets). */
  readonly log?: (message: string) => void;
}

interface Entry {
  readonly name: DeviceName;
  readonly netns: NetnsPath;
  readonly mtu: number;
  readonly device: HostedDevice;
  readonly uapi: UapiServer;
}

export class DeviceRegistry {
  readonly uapiDir: string;
  readonly #openDevice: OpenDevice;
  readonly #log: (message: string) => void;
  readonly #entries = new Map<string, Entry>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: RegistryOptions) {
    this.uapiDir = options.uapiDir;
    this.#openDevice = options.openDevice;
    this.#log = options.log ?? (() => {});
  }

  get size(): number {
    return this.#entries.size;
  }

  uapiSocketOf(name: string): string {
    return path.join(this.uapiDir, `${name}.sock`);
  }

  create(request: { name: DeviceName; netns: NetnsPath; mtu: number | null }): Promise<CreateResult> {
    return this.#serialised(async () => {
      this.#assertOpen();
      const mtu = request.mtu ?? WG_MTU;
      const existing = this.#entries.get(request.name);
      if (existing) {
        if (existing.netns !== request.netns) {
          throw new WgdError('EEXIST', `netns: device ${request.name} exists in namespace ${existing.netns}`, {
            field: 'netns',
            device: request.name,
          });
        }
        if (existing.mtu !== mtu) {
          throw new WgdError('EEXIST', `mtu: device ${request.name} exists with MTU ${existing.mtu}`, {
            field: 'mtu',
            device: request.name,
          });
        }
        return { device: this.#info(existing), created: false };
      }
      return { device: this.#info(await this.#open(request.name, request.netns, mtu)), created: true };
    });
  }

  /** Answers once the device is closed and has let go of its namespace (deleteMany for a burst). */
  delete(name: DeviceName): Promise<DeleteResult> {
    return this.#serialised(async () => {
      const entry = this.#entries.get(name);
      if (!entry) return { existed: false };
      await this.#remove(entry, 'deleted');
      releaseHeldTunsNow();
      await entry.device.released;
      return { existed: true };
    });
  }

  /**
   * Deletes the devices there are of `names` in one change: every UAPI socket first, then every
   * device in one go, whose left TUNs (deleted namespaces) are then let go together — one
   * cleanup run of the kernel for all their namespaces rather than one each.
   */
  async deleteMany(names: readonly DeviceName[]): Promise<DeleteManyResult> {
    const removed = await this.#serialised(async () => {
      const entries = [...new Set(names)].flatMap((name) => this.#entries.get(name) ?? []);
      for (const entry of entries) this.#entries.delete(entry.name);
      await Promise.all(entries.map((entry) => entry.uapi.close().catch(() => {})));
      for (const entry of entries) entry.device.beginClose?.();
      for (const entry of entries) {
        entry.device.close();
        this.#log(`${entry.name}: removed (deleted)`);
      }
      releaseHeldTunsNow();
      return entries;
    });
    await Promise.all(removed.map((entry) => entry.device.released));
    return { existed: removed.map((entry) => entry.name) };
  }

  list(): DeviceInfo[] {
    return [...this.#entries.values()].map((e) => this.#info(e));
  }

  /** Closes every device and UAPI socket; later creates are refused. */
  closeAll(): Promise<void> {
    this.#closed = true;
    return this.#serialised(async () => {
      await Promise.all([...this.#entries.values()].map((e) => this.#remove(e, 'daemon stopping')));
    });
  }

  async #open(name: DeviceName, netns: NetnsPath, mtu: number): Promise<Entry> {
    // Filled in once the entry exists; a device cannot vanish before it is registered, and a
    // late event from an old device of the same name must not remove its successor.
    let self: Entry | null = null;
    const gone = (reason: string): void => {
      if (self) void this.#serialised(() => this.#removeIfCurrent(self!, reason));
    };
    const device = await this.#openDevice({ name, netns, mtu, onGone: gone });
    let uapi: UapiServer;
    const socketPath = this.uapiSocketOf(name);
    try {
      uapi = await UapiServer.listen(socketPath, device, {
        onSocketRemoved: () => gone('its UAPI socket was removed'),
        onRequestError: (e) => this.#log(`${name}: UAPI request refused: ${e.message}`),
      });
    } catch (error) {
      device.close();
      if (error instanceof UapiError && error.code === 'EADDRINUSE') {
        throw new WgdError(
          'EADDRINUSE',
          `name: UAPI socket ${socketPath} is served by another process`,
          { field: 'name', device: name, path: socketPath },
          { cause: error },
        );
      }
      const reason = error instanceof UapiError ? error.message : 'error';
      throw new WgdError(
        'EIO',
        `name: cannot serve UAPI socket ${socketPath}: ${reason}`,
        { field: 'name', device: name, path: socketPath },
        { cause: error },
      );
    }
    const entry: Entry = { name, netns, mtu, device, uapi };
    self = entry;
    this.#entries.set(name, entry);
    this.#log(`${name}: created in ${netns}, MTU ${mtu}, listening on port ${device.listenPort}`);
    return entry;
  }

  async #removeIfCurrent(entry: Entry, reason: string): Promise<void> {
    if (this.#entries.get(entry.name) !== entry) return;
    await this.#remove(entry, reason);
  }

  async #remove(entry: Entry, reason: string): Promise<void> {
    this.#entries.delete(entry.name);
    await entry.uapi.close().catch(() => {});
    entry.device.close();
    this.#log(`${entry.name}: removed (${reason})`);
  }

  #info(entry: Entry): DeviceInfo {
    let peers = 0;
    let drops: Record<string, number> | null = null;
    try {
      peers = entry.device.get().peers.length;
      const counted = entry.device.drops?.();
      // Handshake-side reasons carry a prefix: the two layers count different things.
      if (counted)
        drops = {
          ...counted.dataplane,
          ...Object.fromEntries(Object.entries(counted.handshake).map(([k, v]) => [`handshake_${k}`, v])),
        };
    } catch {
      // Closed in the meantime (its TUN vanished): it leaves the registry on the next turn.
    }
    return {
      name: entry.name,
      netns: entry.netns,
      mtu: entry.mtu,
      uapiSocket: entry.uapi.socketPath,
      listenPort: entry.device.listenPort,
      peers,
      ...(drops ? { drops } : {}),
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new WgdError('EIO', 'wgd is stopping');
  }

  /** Runs changes one at a time, in arrival order. */
  #serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
