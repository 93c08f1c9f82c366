/**
 * The kernel WireGuard entry points of the native addon (native/kernel_wg_addon.cc), typed.
 * Raw shapes only: keys are bytes, addresses are text. src/wg/kernel/device.ts is the API the
 * rest of zmesh uses; tests of the encoding use the `wgEncode*` / `wgDecode*` entry points.
 */
import { native } from '../../native/binding.js';

/** One peer of a SET_DEVICE request; absent fields are left as they are. */
export interface RawPeerSet {
  publicKey: Uint8Array;
  remove?: boolean;
  updateOnly?: boolean;
  replaceAllowedIps?: boolean;
  /** null removes it (all zeros on the wire). */
  presharedKey?: Uint8Array | null;
  /** Numeric `a.b.c.d:port` or `[v6]:port`. */
  endpoint?: string;
  persistentKeepalive?: number;
  /** `address/prefix`. */
  allowedIps?: readonly string[];
}

export interface RawDeviceSet {
  ifname: string;
  /** null removes it. */
  privateKey?: Uint8Array | null;
  listenPort?: number;
  fwmark?: number;
  replacePeers?: boolean;
  peers?: readonly RawPeerSet[];
}

export interface RawPeer {
  publicKey: Buffer;
  presharedKey: Buffer | null;
  endpoint: string | null;
  persistentKeepalive: number;
  lastHandshakeSec: number;
  lastHandshakeNsec: number;
  rxBytes: number;
  txBytes: number;
  protocolVersion: number;
  allowedIps: string[];
  /** Only when decoding SET_DEVICE messages (tests). */
  flags?: number;
}

export interface RawDevice {
  ifname: string;
  ifindex: number;
  privateKey: Buffer | null;
  publicKey: Buffer | null;
  listenPort: number;
  fwmark: number;
  peers: RawPeer[];
  flags?: number;
}

/** How one wgSetDevice went (benchmarks; setDevice ignores it). */
export interface RawSetStats {
  messages: number;
  bytes: number;
  /** JS description → C structure, in the addon. */
  convertMs: number;
  /** Building the netlink messages. */
  encodeMs: number;
  /** In sendmsg(): the kernel applies each message there, before sendmsg returns. */
  sendMs: number;
  maxSendMs: number;
  /** Reading the acknowledgements. */
  ackMs: number;
}

export interface RawSetOptions {
  /** Messages sent before the oldest acknowledgement is read (1..64; default 1). */
  window?: number;
  /** Size limit of one message (512..8192; default 8192). */
  maxMessage?: number;
}

export interface KernelWgNative {
  wgFamilyAvailable(netnsPath: string | null): boolean;
  wgSetDevice(netnsPath: string | null, device: RawDeviceSet, options?: RawSetOptions): RawSetStats;
  wgGetDevice(netnsPath: string | null, ifname: string): RawDevice;
  wgCreateLink(netnsPath: string | null, name: string, moveToNetnsPath: string | null, mtu: number): void;
  wgDeleteLink(netnsPath: string | null, name: string): void;
  wgListLinks(netnsPath: string | null): string[];
  /** Test-only: the messages wgSetDevice would send, each ≤ maxMessageSize bytes. */
  wgEncodeSetDevice(device: RawDeviceSet, familyId: number, maxMessageSize: number): Buffer[];
  /** Test-only: decodes whole netlink messages the way a GET_DEVICE dump is read (peers merged). */
  wgDecodeDeviceMessages(messages: readonly Uint8Array[]): RawDevice;
  /** The size limit of one SET_DEVICE message (8 KiB). */
  readonly wgMessageMax: number;
}

export function kernelWgNative(): KernelWgNative {
  return native() as unknown as KernelWgNative;
}
