/**
 * WgBackend (docs/network-resources.md "WireGuard") and its userspace implementation: devices
 * hosted by `zmesh wgd` (WgdClient: create, delete, list) and configured over each device's UAPI
 * socket (UapiClient: get, set), with the smallest set request that reaches the desired
 * configuration (set-request.ts). The private key goes to the device over its root-only UAPI
 * socket and nowhere else.
 */
import { ready } from '../../../netdef/index.js';
import { UapiClient } from '../../../wg/uapi/client.js';
import { UapiError } from '../../../wg/uapi/errors.js';
import type { DeviceView } from '../../../wg/uapi/view.js';
import type { WgdClient } from '../../../wg/wgd/client.js';
import { WgdError } from '../../../wg/wgd/errors.js';
import { NrError } from '../../errors.js';
import { minimalSetRequest } from './set-request.js';
import type { WgBackend, WgDesiredConfig, WgDeviceStatus } from '../backend.js';

export type { WgBackend, WgDesiredConfig, WgDeviceStatus, WgPeerConfig, WgPeerStatus } from '../backend.js';

/** The live status in the backend-neutral shape. */
export function statusFromView(name: string, view: DeviceView): WgDeviceStatus {
  return {
    name,
    publicKey: view.privateKey?.publicKey() ?? null,
    listenPort: view.listenPort,
    peers: view.peers.map((p) => ({
      publicKey: p.publicKey.base64(),
      endpoint: p.endpoint?.text ?? null,
      allowedIps: p.allowedIps.map((ip) => ip.text),
      persistentKeepalive: p.persistentKeepalive,
      lastHandshake: p.lastHandshake.sec === 0 ? null : p.lastHandshake.sec,
      rxBytes: Number(p.rxBytes),
      txBytes: Number(p.txBytes),
    })),
  };
}

function wgError(action: string, device: string, error: unknown): NrError {
  const reason =
    error instanceof WgdError || error instanceof UapiError
      ? `${error.code}: ${error.message}`
      : String((error as Error)?.message ?? error);
  return new NrError('EWG', `${action} ${device}: ${reason}`, { device }, { cause: error });
}

export interface UserspaceWgBackendOptions {
  readonly wgd: WgdClient;
  readonly uapi?: UapiClient;
}

export class UserspaceWgBackend implements WgBackend {
  readonly kind = 'userspace' as const;
  readonly #wgd: WgdClient;
  readonly #uapi: UapiClient;
  /** Device name → UAPI socket path, as wgd reported it. */
  readonly #sockets = new Map<string, string>();

  constructor(options: UserspaceWgBackendOptions) {
    this.#wgd = options.wgd;
    this.#uapi = options.uapi ?? new UapiClient();
  }

  async ensureDevice(name: string, nrNetnsPath: string, mtu: number): Promise<void> {
    try {
      const { device } = await this.#wgd.create({ name, netns: nrNetnsPath, mtu });
      this.#sockets.set(name, device.uapiSocket);
    } catch (error) {
      throw wgError('cannot create WireGuard device', name, error);
    }
  }

  async configure(name: string, config: WgDesiredConfig): Promise<void> {
    await ready();
    const socket = await this.#socketOf(name);
    if (socket === null)
      throw new NrError('EWG', `cannot configure WireGuard device ${name}: wgd has no such device`, { device: name });
    try {
      const request = minimalSetRequest(await this.#uapi.get(socket), config);
      if (request) await this.#uapi.set(socket, request);
    } catch (error) {
      throw wgError('cannot configure WireGuard device', name, error);
    }
  }

  async status(name: string): Promise<WgDeviceStatus | null> {
    await ready();
    const socket = await this.#socketOf(name);
    if (socket === null) return null;
    try {
      return statusFromView(name, await this.#uapi.get(socket));
    } catch (error) {
      if (error instanceof UapiError && error.code === 'ENOENT') {
        // The device went away (wgd restarted or deleted it): forget the socket.
        this.#sockets.delete(name);
        return null;
      }
      throw wgError('cannot read WireGuard device', name, error);
    }
  }

  async removeDevice(name: string): Promise<void> {
    try {
      await this.#wgd.delete(name);
      this.#sockets.delete(name);
    } catch (error) {
      throw wgError('cannot remove WireGuard device', name, error);
    }
  }

  async removeDevices(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    try {
      await this.#wgd.deleteMany(names);
    } catch (error) {
      // A wgd from before delete-many (adopted across an upgrade): the same, one request each.
      if (!(error instanceof WgdError && error.code === 'EINVAL'))
        throw wgError('cannot remove WireGuard devices', names.join(', '), error);
      await Promise.all(names.map((name) => this.removeDevice(name)));
    }
    for (const name of names) this.#sockets.delete(name);
  }

  async listDevices(): Promise<string[]> {
    try {
      const devices = await this.#wgd.list();
      for (const d of devices) this.#sockets.set(d.name, d.uapiSocket);
      return devices.map((d) => d.name);
    } catch (error) {
      throw wgError('cannot list WireGuard devices of', 'wgd', error);
    }
  }

  async #socketOf(name: string): Promise<string | null> {
    const known = this.#sockets.get(name);
    if (known !== undefined) return known;
    await this.listDevices();
    return this.#sockets.get(name) ?? null;
  }
}
