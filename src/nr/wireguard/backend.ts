/**
 * The WireGuard side of a network resource as networkd sees it, whatever implements it
 * (userspace wgd, kernel WireGuard): the configuration zmesh wants on a device, the live status
 * a device reports, and the WgBackend interface of docs/network-resources.md.
 */
import type { PrivateKey } from '../../netdef/index.js';

export interface WgPeerConfig {
  /** base64 */
  readonly publicKey: string;
  /** Numeric `ip:port` to dial, or null when the peer dials in (or its name is not resolved yet). */
  readonly endpoint: string | null;
  /** Canonical prefixes, in the plan's order. */
  readonly allowedIps: readonly string[];
  /** Seconds, 0 = off. */
  readonly persistentKeepalive: number;
}

export interface WgDesiredConfig {
  /** Opaque: prints as a placeholder, never serialised. */
  readonly privateKey: PrivateKey;
  /** base64 public key of privateKey, to compare with what a device reports. */
  readonly publicKey: string;
  readonly listenPort: number;
  readonly peers: readonly WgPeerConfig[];
}

export interface WgPeerStatus {
  readonly publicKey: string;
  /** The live endpoint (configured or roamed to). */
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  readonly persistentKeepalive: number;
  /** Unix seconds of the last handshake, null when none. */
  readonly lastHandshake: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface WgDeviceStatus {
  readonly name: string;
  /** base64 public key of the device's private key, null when it has none. */
  readonly publicKey: string | null;
  readonly listenPort: number;
  readonly peers: readonly WgPeerStatus[];
}

export interface WgBackend {
  readonly kind: 'userspace' | 'kernel';
  /** Creates the device if missing (TUN/link in the NR namespace, UDP socket in the host's). Idempotent. */
  ensureDevice(name: string, nrNetnsPath: string, mtu: number): Promise<void>;
  /** Makes the device's configuration exactly this (private key, port, peers, allowed IPs, keepalive), changing only what differs. */
  configure(name: string, config: WgDesiredConfig): Promise<void>;
  /** Live state: peers with endpoint, last handshake, rx/tx bytes. null if the device does not exist. */
  status(name: string): Promise<WgDeviceStatus | null>;
  removeDevice(name: string): Promise<void>;
  /**
   * Removes the devices there are of `names` as one burst: for devices whose namespaces were just
   * deleted, so that the kernel destroys those namespaces in one cleanup (teardown of many NRs).
   */
  removeDevices(names: readonly string[]): Promise<void>;
  /** Names of devices that exist (to garbage-collect). */
  listDevices(): Promise<string[]>;
}
