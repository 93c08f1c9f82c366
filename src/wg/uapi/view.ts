/**
 * DeviceView: what a `get=1` answers — the configuration merged with the device's live state.
 *
 * The device supplies it: configured keys and allowed IPs from its DeviceConfig, and from its
 * runtime the actual listen port (when 0 was configured), the current endpoint (after roaming),
 * handshake times and byte counters. `viewFromConfig` builds the view of a device that has no
 * live state yet (or never will: ConfigOnlyDevice), and the device overlays its live fields.
 */
import type { DeviceConfig } from '../config.js';
import type { AllowedIp, UapiEndpoint } from './ip.js';
import type { PresharedKey, PrivateKey, PublicKey } from '../../netdef/keys.js';

export interface HandshakeTime {
  /** Unix time of the last completed handshake; 0/0 = never. */
  readonly sec: number;
  readonly nsec: number;
}

export interface PeerView {
  readonly publicKey: PublicKey;
  readonly presharedKey: PresharedKey | null;
  /** The live endpoint: the configured one, or where the peer last roamed to. */
  readonly endpoint: UapiEndpoint | null;
  readonly persistentKeepalive: number;
  readonly allowedIps: readonly AllowedIp[];
  readonly lastHandshake: HandshakeTime;
  /** Whole WireGuard UDP payloads, handshake messages included (as wireguard-go counts). */
  readonly txBytes: bigint;
  readonly rxBytes: bigint;
  readonly protocolVersion: 1;
}

export interface DeviceView {
  readonly privateKey: PrivateKey | null;
  /** The port actually bound (0 = none). */
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly PeerView[];
}

/** Live per-peer state the device overlays on its configuration. */
export interface PeerRuntime {
  readonly endpoint?: UapiEndpoint | null;
  readonly lastHandshake?: HandshakeTime;
  readonly txBytes?: bigint;
  readonly rxBytes?: bigint;
}

export const NEVER: HandshakeTime = Object.freeze({ sec: 0, nsec: 0 });

export function viewFromConfig(
  config: DeviceConfig,
  live: { readonly listenPort?: number; readonly peer?: (publicKeyHex: string) => PeerRuntime | undefined } = {},
): DeviceView {
  const peers: PeerView[] = [];
  for (const [hex, p] of config.peers) {
    const runtime = live.peer?.(hex) ?? {};
    peers.push({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey,
      endpoint: runtime.endpoint !== undefined ? runtime.endpoint : p.endpoint,
      persistentKeepalive: p.persistentKeepalive,
      allowedIps: p.allowedIps,
      lastHandshake: runtime.lastHandshake ?? NEVER,
      txBytes: runtime.txBytes ?? 0n,
      rxBytes: runtime.rxBytes ?? 0n,
      protocolVersion: 1,
    });
  }
  return {
    privateKey: config.privateKey,
    listenPort: live.listenPort ?? config.listenPort,
    fwmark: config.fwmark,
    peers,
  };
}
