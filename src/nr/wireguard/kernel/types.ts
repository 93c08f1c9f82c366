/**
 * The kernel WireGuard device's shapes in zmesh's types (base64 public keys, `PrivateKey` and
 * `PresharedKey` for the secrets, numeric endpoint and prefix text): what a SET_DEVICE changes and
 * what a GET_DEVICE reads. device.ts converts them to and from the addon's raw shapes.
 */
import type { PresharedKey, PrivateKey } from '../../../netdef/index.js';

/** What one SET_DEVICE changes for a peer; absent fields stay as they are. */
export interface KernelPeerSet {
  /** base64 */
  readonly publicKey: string;
  /** Remove the peer (nothing else of it is sent). */
  readonly remove?: boolean;
  /** Change the peer only if it exists; never create it. */
  readonly updateOnly?: boolean;
  /** Replace the peer's allowed IPs by `allowedIps` instead of adding them. */
  readonly replaceAllowedIps?: boolean;
  /** null removes it. */
  readonly presharedKey?: PresharedKey | null;
  /** Numeric `a.b.c.d:port` or `[v6]:port`. */
  readonly endpoint?: string;
  /** Seconds, 0 turns it off. */
  readonly persistentKeepalive?: number;
  /** `address/prefix`, IPv4 or IPv6. */
  readonly allowedIps?: readonly string[];
}

/** What one SET_DEVICE changes; absent fields stay as they are. */
export interface KernelDeviceSet {
  /** null removes it. */
  readonly privateKey?: PrivateKey | null;
  readonly listenPort?: number;
  readonly fwmark?: number;
  /** Remove all peers first, then apply `peers` (so the device ends with exactly these). */
  readonly replacePeers?: boolean;
  readonly peers?: readonly KernelPeerSet[];
}

export interface KernelPeer {
  readonly publicKey: string;
  readonly presharedKey: PresharedKey | null;
  /** The live endpoint (configured or roamed to), numeric. */
  readonly endpoint: string | null;
  readonly persistentKeepalive: number;
  /** Unix time of the last handshake in seconds (with fraction), null when none. */
  readonly lastHandshake: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly protocolVersion: number;
  /** In the kernel's order (by address family, then as its trie walks them). */
  readonly allowedIps: readonly string[];
}

export interface KernelDevice {
  readonly ifname: string;
  readonly ifindex: number;
  readonly privateKey: PrivateKey | null;
  readonly publicKey: string | null;
  /** The bound port (the kernel picks one when 0 was set). */
  readonly listenPort: number;
  readonly fwmark: number;
  /** In the kernel's order (the order they were added). */
  readonly peers: readonly KernelPeer[];
}
