/**
 * The WireGuard configuration last confirmed on each device, so that a reconcile which changes
 * nothing need not ask the backend (a UAPI get per device, 1–10 ms) what it already knows.
 *
 * A memory is tied to the device's link as inspection saw it (its ifindex in the NR namespace):
 * a device that vanished or was made anew (wgd restarted: its TUNs die with it; a kernel link
 * deleted) has a new ifindex, and the memory no longer applies. What the link cannot show — a
 * change made over the UAPI socket behind networkd's back — is caught when the memory expires
 * (TRUST_MS), after which the device is read again. Only public values are kept (the public key
 * stands for the private key).
 */
import type { WgDesiredConfig, WgDeviceStatus } from './backend.js';

/** How long a confirmed configuration is trusted without reading the device again. */
export const WG_TRUST_MS = 5 * 60_000;

interface Entry {
  readonly ifindex: number;
  readonly fingerprint: string;
  readonly at: number;
}

function fingerprintOf(config: WgDesiredConfig): string {
  return JSON.stringify([config.publicKey, config.listenPort, config.peers]);
}

export class WgConfigMemory {
  readonly #entries = new Map<string, Entry>();
  readonly #trustMs: number;
  readonly #now: () => number;

  constructor(options: { trustMs?: number; now?: () => number } = {}) {
    this.#trustMs = options.trustMs ?? WG_TRUST_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * The device's configuration as a status diff can compare, when `config` is what was last
   * confirmed on the device whose link now has `ifindex`; null when it must be read.
   */
  recall(name: string, ifindex: number, config: WgDesiredConfig): WgDeviceStatus | null {
    const entry = this.#entries.get(name);
    if (
      !entry ||
      entry.ifindex !== ifindex ||
      entry.fingerprint !== fingerprintOf(config) ||
      this.#now() - entry.at > this.#trustMs
    )
      return null;
    return {
      name,
      publicKey: config.publicKey,
      listenPort: config.listenPort,
      peers: config.peers.map((p) => ({ ...p, lastHandshake: null, rxBytes: 0, txBytes: 0 })),
    };
  }

  /** The device whose link has `ifindex` now holds exactly `config` (read back, or just set). */
  remember(name: string, ifindex: number, config: WgDesiredConfig, confirmedAt: number = this.#now()): void {
    this.#entries.set(name, { ifindex, fingerprint: fingerprintOf(config), at: confirmedAt });
  }

  forget(name: string): void {
    this.#entries.delete(name);
  }
}
