/**
 * The kernel WireGuard entry points of the native addon (native/kernel_wg_addon.cc), typed.
 * Raw shapes only: keys are bytes, addresses are text. src/nr/wireguard/kernel/device.ts is the API the
 * rest of zmesh uses; tests of the encoding use the `wgEncode*` / `wgDecode*` entry points.
 */
import { native } from '../../../native/binding.js';

/**
 * Per-peer flag bits of a RawPeerBatch: the kernel's WGPEER_F_* in bits 0..2, then which optional
 * fields the peer carries. Mirrors native/wgk_batch.h (the addon exports its values as
 * `wgPeerBatchFlags`; a unit test holds the two together).
 */
export const RAW_PEER = {
  REMOVE: 1,
  REPLACE_ALLOWED_IPS: 2,
  UPDATE_ONLY: 4,
  /** The peer's 32 bytes are the next ones of `presharedKeys`. */
  PRESHARED_KEY: 8,
  /** Remove the preshared key (all zeros on the wire). */
  PRESHARED_KEY_NONE: 16,
  /** The peer's endpoint is the next `endpointLengths[i]` characters of `endpoints`. */
  ENDPOINT: 32,
  /** `keepalives[i]` is the peer's persistent keepalive. */
  KEEPALIVE: 64,
} as const;

/**
 * The peers of a SET_DEVICE request, packed: a few columns and concatenated strings for the whole
 * set instead of an object per peer, so the addon reads 10,000 peers with a dozen N-API calls.
 * Text is concatenated without separators and cut at the lengths given (JavaScript string
 * lengths: the addon reads the strings as UTF-16); the addon parses and checks every value.
 */
export interface RawPeerBatch {
  count: number;
  /** Each peer's public key as given (base64, 44 characters), concatenated. */
  publicKeys: string;
  /** RAW_PEER bits, one per peer. */
  flags: Uint8Array;
  /** One per peer (read when KEEPALIVE is set). */
  keepalives: Uint16Array;
  /** One per peer (read when ENDPOINT is set). */
  endpointLengths: Uint32Array;
  endpoints: string;
  /** How many of the allowed IPs that follow are each peer's. */
  allowedIpCounts: Uint32Array;
  /** One per allowed IP, in peer order. */
  allowedIpLengths: Uint32Array;
  allowedIps: string;
  /** 32 bytes for each peer with PRESHARED_KEY, in peer order; null when none has one. */
  presharedKeys: Uint8Array | null;
}

export interface RawDeviceSet {
  ifname: string;
  /** null removes it. */
  privateKey?: Uint8Array | null;
  listenPort?: number;
  fwmark?: number;
  replacePeers?: boolean;
  peers?: RawPeerBatch;
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
  /** Size limit of one message (512..65536; default 32768; wg(8) sends at most 4096). */
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
  /** The addon's values of RAW_PEER. */
  readonly wgPeerBatchFlags: Readonly<Record<keyof typeof RAW_PEER, number>>;
}

export function kernelWgNative(): KernelWgNative {
  return native() as unknown as KernelWgNative;
}
