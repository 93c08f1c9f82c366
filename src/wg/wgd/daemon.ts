/**
 * `zmesh wgd`, the daemon: one process hosting many userspace WireGuard devices (each its own TUN
 * in an NR namespace, UDP sockets in the node's namespace — the one wgd runs in — and a
 * wg(8)-compatible UAPI socket), created and removed over a control socket (control-server.ts,
 * protocol.ts) by networkd.
 *
 * Why a separate process: the data plane lives exactly as long as wgd does. The devices' TUNs are
 * not persistent, so they vanish with wgd's file descriptors, and the keys live only in wgd's
 * memory. networkd is the control plane and may restart at any time (upgrade, crash, kill -9)
 * without a packet lost, which is only true if wgd is NOT restarted with it. For networkd:
 * - start wgd in its own session (detached, setsid) or as its own service, never as a child that
 *   shares networkd's process group or cgroup kill: a SIGTERM aimed at networkd must not reach
 *   wgd;
 * - on start, `ping` the control socket: if wgd answers, adopt it (`list` tells which devices
 *   exist; `create` of an existing device with the same parameters is a no-op that returns it), and
 *   re-apply each device's configuration over its UAPI socket (a UAPI set of an unchanged
 *   configuration changes nothing, so re-applying is always safe);
 * - if `ping` answers a different pid than before, wgd restarted: every device and key is gone,
 *   so recreate the devices and re-apply all configuration (keys are in memory only, by design).
 *
 * On SIGTERM/SIGINT (handled by the command, src/cli/wgd.ts) every device and socket is closed.
 */
import path from 'node:path';
import { MAX_SOCKET_PATH_BYTES } from '../../socket/socket-file.js';
import { ControlServer } from './control-server.js';
import { WgdError } from './errors.js';
import type { WgdRequest } from './protocol.js';
import { DEFAULT_UAPI_DIR, DeviceRegistry, type OpenDevice } from './registry.js';

export interface WgdOptions {
  /** Path of the control socket (its directory is created 0700 if missing). */
  readonly controlSocket: string;
  /** Where the devices' UAPI sockets go (default /var/run/wireguard, where wg(8) looks). */
  readonly uapiDir?: string;
  /** How devices are opened (default: the real WireGuardDevice, see open-device.ts). */
  readonly openDevice: OpenDevice;
  /** The daemon's event log (no secrets). */
  readonly log?: (message: string) => void;
}

export class Wgd {
  readonly registry: DeviceRegistry;
  readonly controlSocket: string;
  readonly #control: ControlServer;
  readonly #startedAt: number;
  #closing: Promise<void> | null = null;

  private constructor(registry: DeviceRegistry, control: ControlServer, startedAt: number) {
    this.registry = registry;
    this.#control = control;
    this.controlSocket = control.socketPath;
    this.#startedAt = startedAt;
  }

  /** Binds the control socket (EADDRINUSE when another wgd serves it) and starts serving. */
  static async start(options: WgdOptions): Promise<Wgd> {
    const startedAt = performance.now();
    const log = options.log ?? (() => {});
    const uapiDir = options.uapiDir ?? DEFAULT_UAPI_DIR;
    // Refuse at start a directory where a 15-byte device name would not fit a socket address,
    // rather than failing the creates later.
    const longest = path.join(uapiDir, `${'x'.repeat(15)}.sock`);
    if (!path.isAbsolute(uapiDir) || Buffer.byteLength(longest) > MAX_SOCKET_PATH_BYTES) {
      const most = MAX_SOCKET_PATH_BYTES - (longest.length - uapiDir.length);
      throw new WgdError(
        'EINVAL',
        `uapiDir: must be an absolute path of at most ${most} bytes (DIR/NAME.sock with a 15-byte NAME must fit a ${MAX_SOCKET_PATH_BYTES}-byte socket address)`,
        { field: 'uapiDir', path: uapiDir },
      );
    }
    const registry = new DeviceRegistry({ uapiDir, openDevice: options.openDevice, log });
    let wgd: Wgd | null = null;
    const control = await ControlServer.listen(
      options.controlSocket,
      (request) => {
        if (!wgd) throw new WgdError('EIO', 'wgd is starting');
        return wgd.handle(request);
      },
      {
        onRequestError: (e) => log(`control request refused: ${e.code}: ${e.message}`),
      },
    );
    wgd = new Wgd(registry, control, startedAt);
    return wgd;
  }

  /** Carries out one control request; resolves to the answer's body. */
  async handle(request: WgdRequest): Promise<object> {
    switch (request.op) {
      case 'create':
        return this.registry.create(request);
      case 'delete':
        return this.registry.delete(request.name);
      case 'delete-many':
        return this.registry.deleteMany(request.names);
      case 'list':
        return { devices: this.registry.list() };
      case 'ping': {
        const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
        return {
          pid: process.pid,
          uptimeMs: Math.round(performance.now() - this.#startedAt),
          devices: this.registry.size,
          memory: { rss, heapTotal, heapUsed, external, arrayBuffers },
        };
      }
    }
  }

  /** Closes the control socket, then every device and UAPI socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#control.close();
      await this.registry.closeAll();
    })();
    return this.#closing;
  }
}
