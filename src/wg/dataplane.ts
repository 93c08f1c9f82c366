// The userspace WireGuard data plane: a typed wrapper over the native packet
// path (native/wg_*.c). It owns nothing but the conversion of arguments,
// results and errors; packets never cross into JavaScript.
//
// What the native side does per device: two threads (TUN → allowed-IPs →
// encrypt → UDP, and UDP → decrypt → replay check → source check → TUN),
// peers, the allowed-IPs table, the receiver-index table, staged packets for
// peers without a keypair, counters. What it hands up, batched per wake-up:
// handshake messages (types 1/2/3 of the exact sizes, with their source),
// peers that want a handshake (at most once a second each), and responder
// keypairs confirmed by their first received packet.
//
// Contract details the protocol core / device layer relies on:
// - File descriptors: `create` takes ownership of tunFd, udp4Fd and udp6Fd
//   when it succeeds (when it throws, the caller still owns them); `close()`
//   closes them. The TUN is made non-blocking, the UDP sockets blocking (the
//   packet threads use MSG_DONTWAIT to receive). `mtu` is the TUN's MTU at
//   the start (see MTU below); with `tunOffload` the kernel's TSO/USO
//   super-packets are split to the segment size the kernel chose.
// - Keypair slots follow the Linux module's noise.c: an initiator keypair
//   becomes current at once (a pending next becomes previous), a responder
//   keypair becomes next and is promoted to current by the first packet that
//   authenticates on it (reported through onKeypairConfirmed); staged packets
//   are flushed whenever a keypair becomes current.
// - A keypair is used to send while it is younger than REJECT_AFTER_TIME,
//   its counter below REJECT_AFTER_MESSAGES and it was not expired with
//   expireKeypairs (which, as in wireguard-go, stops sending but not
//   receiving). Received packets older than REJECT_AFTER_TIME are dropped.
// - Wants-handshake fires when a packet had no usable keypair, when an
//   initiator's current keypair passes REKEY_AFTER_TIME / REKEY_AFTER_MESSAGES
//   on send, or REJECT − KEEPALIVE − REKEY_TIMEOUT (165 s) on receive. The
//   core decides whether a handshake actually starts.
// - Counters: tx/rx bytes are whole UDP payloads. Transport messages are
//   counted here; handshake messages sent with sendRaw count in tx, and
//   received ones count in rx once the core calls creditRx(peerId, n) (only
//   it knows which peer sent them). Times are monotonicMs() values, 0 = never.
// - Sticky sources: the data plane remembers, per peer, the local address its
//   packets last arrived on and sends to it from there (IP_PKTINFO /
//   IPV6_PKTINFO); when that address is removed, it forgets it at the first
//   refused send and lets routing choose. A configured endpoint has none.
// - MTU: packets of any size the TUN hands over are carried (up to what one
//   UDP datagram holds); `mtu` only bounds the padding. refreshMtu() reads the
//   link's MTU wherever the link is now (it may have been moved to another
//   namespace); onTunGone fires once when the link is deleted.
// - The device keeps the process alive (like a listening server) until close().
import { isIP } from 'node:net';

import { native } from '../native/binding.js';
import type { Endpoint } from './endpoint.js';

export interface Cidr {
  address: string;
  prefix: number;
}

/** A local address a peer's packets arrived on, which replies to it leave from (sticky source). */
export interface LocalSource {
  address: string; // IPv4 or IPv6 literal
  ifindex: number;
}

export interface HandshakeMessage {
  bytes: Uint8Array;
  from: Endpoint;
  /** The local address it arrived on (null if the kernel did not say). */
  local: LocalSource | null;
}

export interface KeypairConfirmed {
  peerId: number;
  localIndex: number;
}

export interface PeerStats {
  peerId: number;
  txBytes: number;
  rxBytes: number;
  lastDataSentMs: number;
  lastDataReceivedMs: number;
  lastAuthenticatedSentMs: number;
  lastAuthenticatedReceivedMs: number;
  hasCurrentKeypair: boolean;
  /** The next counter the current keypair would send with (0n without one). */
  sendCounter: bigint;
  wantsHandshake: boolean;
  /** Packets waiting for a keypair. */
  staged: number;
  endpoint: Endpoint | null;
}

export interface Keypair {
  localIndex: number;
  remoteIndex: number;
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
  initiator: boolean;
}

export interface DataplaneOptions {
  tunFd: number;
  udp4Fd: number | null;
  udp6Fd: number | null;
  mtu: number;
  /**
   * The TUN was opened with the virtio-net header flag (native().constants.TUN_VNET_HDR): the
   * data plane turns on the TUN's offloads (checksum, TSO, USO), splits the kernel's
   * super-packets and coalesces received TCP segments. Must match how the TUN was opened.
   * Default false.
   */
  tunOffload?: boolean;
  onHandshakeMessages: (msgs: HandshakeMessage[]) => void;
  onWantsHandshake: (peerIds: number[]) => void;
  onKeypairConfirmed?: (confirmed: KeypairConfirmed[]) => void;
  /** The TUN's link was deleted, in whatever namespace it was by then (fires once). */
  onTunGone?: () => void;
}

export type DataplaneErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNKNOWN_PEER'
  | 'UNKNOWN_KEYPAIR'
  | 'INDEX_IN_USE'
  | 'START_FAILED'
  | 'CLOSED'
  | 'NATIVE_ERROR';

/** A data plane error: `code` says what kind, `context` where (never a key). */
export class DataplaneError extends Error {
  readonly code: DataplaneErrorCode;
  readonly context: Record<string, unknown>;
  constructor(code: DataplaneErrorCode, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = 'DataplaneError';
    this.code = code;
    this.context = context;
  }
}

/** Drop reasons the native side counts (see wg_dataplane.h). */
export type DropReason =
  | 'short'
  | 'unknownType'
  | 'handshakeSize'
  | 'unknownIndex'
  | 'expiredKeypair'
  | 'authFailed'
  | 'replay'
  | 'invalidInner'
  | 'sourceNotAllowed'
  | 'noRoute'
  | 'noEndpoint'
  | 'noSocket'
  | 'stagedOverflow'
  | 'handshakeQueueFull'
  | 'oversize'
  | 'tunWriteError'
  | 'sendError'
  | 'readError';

interface NativeDevice {
  setPeer(
    peerId: number,
    endpoint: Endpoint | null | undefined,
    allowedIps: Cidr[] | undefined,
    source?: LocalSource | null,
  ): number;
  removePeer(peerId: number): number;
  installKeypair(
    peerId: number,
    localIndex: number,
    remoteIndex: number,
    sendKey: Uint8Array,
    receiveKey: Uint8Array,
    initiator: boolean,
  ): number;
  removeKeypair(peerId: number, localIndex: number): number;
  expireKeypairs(peerId: number): number;
  dropQueued(peerId: number): number;
  sendRaw(peerId: number, bytes: Uint8Array): number;
  sendRawTo(to: Endpoint, bytes: Uint8Array, from?: LocalSource | null): number;
  sendKeepalive(peerId: number): number;
  creditRx(peerId: number, bytes: number): number;
  setSockets(udp4Fd: number, udp6Fd: number): number;
  lookup(address: string): number | null | undefined;
  peerStats(changedOnly?: boolean): PeerStats[];
  dropCounters(): Record<DropReason, number>;
  refreshMtu(): number;
  signalStop(): void;
  close(leaveLink?: boolean): number;
}

type EventsCallback = (
  handshakes: HandshakeMessage[],
  wants: number[],
  confirmed: KeypairConfirmed[],
  tunGone: boolean,
) => void;

/** How the C data plane reaches OpenSSL's ChaCha20-Poly1305 (native/wg_aead.h). */
export type AeadBackend = 'avx512' | 'direct' | 'evp';

interface DataplaneNative {
  Dataplane: new (
    tunFd: number,
    udp4Fd: number,
    udp6Fd: number,
    mtu: number,
    onEvents: EventsCallback,
    tunOffload: boolean,
  ) => NativeDevice;
  monotonicMs(): number;
  dataplaneTest: {
    replayWindow(counters: bigint[]): boolean[];
    AllowedIpsTable: new () => {
      insert(address: string, prefix: number, owner: number): number;
      removeExact(address: string, prefix: number, owner: number): void;
      removeValue(owner: number): void;
      lookup(address: string): number | null;
    };
    /** The C transport AEAD (native/wg_aead.c) of one back end: ciphertext || tag. */
    aeadSeal(backend: AeadBackend, key: Buffer, counter: bigint, plaintext: Buffer): Buffer;
    /** The plaintext, or null when the tag does not verify. */
    aeadOpen(backend: AeadBackend, key: Buffer, counter: bigint, sealed: Buffer): Buffer | null;
    /** The back end the data plane uses in this process. */
    aeadBackend(): AeadBackend;
    /** ns per seal and per open of packets of `bytes.length`, timed in C (scripts/bench/aead.ts). */
    aeadTiming(
      backend: AeadBackend,
      key: Buffer,
      counter: bigint,
      bytes: Buffer,
      iterations: number,
    ): { sealNs: number; openNs: number };
    /**
     * The folded Internet checksum sum (RFC 1071, memory byte order, not complemented) of bytes by
     * one of the C kernels (native/wg_offload.c, native/wg_csum.c); null when the CPU lacks it.
     */
    checksum(bytes: Uint8Array, kernel: 'portable' | 'avx512' | 'avx512-copy'): number | null;
  };
}

function binding(): DataplaneNative {
  return native() as unknown as DataplaneNative;
}

/** CLOCK_MONOTONIC in milliseconds: the clock of the data plane's timestamps. */
export function monotonicMs(): number {
  return binding().monotonicMs();
}

/** Test access to the C replay window and allowed-IPs trie. */
export function dataplaneTestHooks(): DataplaneNative['dataplaneTest'] {
  return binding().dataplaneTest;
}

const ENOENT = 2;
const EEXIST = 17;
const EINVAL = 22;
const EBADF = 9;
const EBADFD = 77;

function invalid(field: string, reason: string, value?: unknown): DataplaneError {
  return new DataplaneError(
    'INVALID_ARGUMENT',
    `${field}: ${reason}`,
    value === undefined ? { field } : { field, value },
  );
}

function checkU32(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw invalid(field, 'must be an integer from 0 to 2^32-1', v);
  return v;
}

function checkFd(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw invalid(field, 'must be an open file descriptor', v);
  return v;
}

function checkAddress(field: string, address: unknown): 4 | 6 {
  if (typeof address !== 'string' || address.includes('%'))
    throw invalid(field, 'must be an IPv4 or IPv6 literal without a zone', address);
  const family = isIP(address);
  if (family === 0) throw invalid(field, 'must be an IPv4 or IPv6 literal', address);
  return family as 4 | 6;
}

function checkEndpoint(field: string, e: unknown): Endpoint {
  if (typeof e !== 'object' || e === null) throw invalid(field, 'must be { address, port }');
  const { address, port } = e as Endpoint;
  checkAddress(`${field}.address`, address);
  // Port 0 is accepted, as wireguard-go and the configuration model accept it (sending there fails).
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw invalid(`${field}.port`, 'must be an integer from 0 to 65535', port);
  return { address, port };
}

function checkSource(field: string, s: unknown): LocalSource | null {
  if (s === null || s === undefined) return null;
  if (typeof s !== 'object') throw invalid(field, 'must be { address, ifindex } or null');
  const { address, ifindex } = s as LocalSource;
  checkAddress(`${field}.address`, address);
  return { address, ifindex: checkU32(`${field}.ifindex`, ifindex) };
}

function checkCidrs(field: string, list: unknown): Cidr[] {
  if (!Array.isArray(list)) throw invalid(field, 'must be an array of { address, prefix }');
  return list.map((c: unknown, i) => {
    if (typeof c !== 'object' || c === null) throw invalid(`${field}[${i}]`, 'must be { address, prefix }');
    const { address, prefix } = c as Cidr;
    const family = checkAddress(`${field}[${i}].address`, address);
    const max = family === 4 ? 32 : 128;
    if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw invalid(`${field}[${i}].prefix`, `must be an integer from 0 to ${max}`, prefix);
    return { address, prefix };
  });
}

function checkKey(field: string, key: unknown): Uint8Array {
  // The value is never echoed: it is a secret.
  if (!(key instanceof Uint8Array) || key.length !== 32) throw invalid(field, 'must be a 32-byte Uint8Array');
  return key;
}

function checkBytes(field: string, bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > 65535)
    throw invalid(field, 'must be a Uint8Array of 1 to 65535 bytes');
  return bytes;
}

export class Dataplane {
  #device: NativeDevice;
  #closed = false;

  private constructor(device: NativeDevice) {
    this.#device = device;
  }

  static create(opts: DataplaneOptions): Dataplane {
    const tunFd = checkFd('tunFd', opts.tunFd);
    const udp4Fd = opts.udp4Fd === null ? -1 : checkFd('udp4Fd', opts.udp4Fd);
    const udp6Fd = opts.udp6Fd === null ? -1 : checkFd('udp6Fd', opts.udp6Fd);
    if (udp4Fd < 0 && udp6Fd < 0) throw invalid('udp4Fd', 'at least one of udp4Fd and udp6Fd is needed');
    if (!Number.isInteger(opts.mtu) || opts.mtu < 576 || opts.mtu > 65455)
      throw invalid('mtu', 'must be an integer from 576 to 65455', opts.mtu);
    const tunOffload = opts.tunOffload ?? false;
    if (typeof tunOffload !== 'boolean') throw invalid('tunOffload', 'must be a boolean', tunOffload);
    for (const name of ['onHandshakeMessages', 'onWantsHandshake'] as const)
      if (typeof opts[name] !== 'function') throw invalid(name, 'must be a function');
    let gone = false;
    const onEvents: EventsCallback = (handshakes, wants, confirmed, tunGone) => {
      if (handshakes.length) opts.onHandshakeMessages(handshakes);
      if (wants.length) opts.onWantsHandshake(wants);
      if (confirmed.length && opts.onKeypairConfirmed) opts.onKeypairConfirmed(confirmed);
      if (tunGone && !gone) {
        gone = true;
        opts.onTunGone?.();
      }
    };
    try {
      return new Dataplane(new (binding().Dataplane)(tunFd, udp4Fd, udp6Fd, opts.mtu, onEvents, tunOffload));
    } catch (e) {
      throw new DataplaneError('START_FAILED', `cannot start the data plane: ${(e as Error).message}`, {
        tunFd,
        udp4Fd,
        udp6Fd,
      });
    }
  }

  #live(): NativeDevice {
    if (this.#closed) throw new DataplaneError('CLOSED', 'the data plane is closed');
    return this.#device;
  }

  #check(rc: number, what: string, context: Record<string, unknown>): void {
    if (rc === 0) return;
    if (rc === -ENOENT)
      throw new DataplaneError(
        what === 'removeKeypair' ? 'UNKNOWN_KEYPAIR' : 'UNKNOWN_PEER',
        `${what}: no such ${what === 'removeKeypair' ? 'keypair' : 'peer'}`,
        context,
      );
    if (rc === -EEXIST) throw new DataplaneError('INDEX_IN_USE', `${what}: local index already in use`, context);
    if (rc === -EINVAL) throw new DataplaneError('INVALID_ARGUMENT', `${what}: rejected by the data plane`, context);
    if (rc === -EBADF) throw new DataplaneError('CLOSED', 'the data plane is closed', context);
    throw new DataplaneError('NATIVE_ERROR', `${what}: errno ${-rc}`, { ...context, errno: -rc });
  }

  /**
   * Creates the peer if needed. endpoint: undefined keeps, null clears. source: the local address
   * to send to a new endpoint from (where a handshake from it arrived); none: routing chooses.
   * allowedIps: undefined keeps, an array replaces.
   */
  setPeer(peerId: number, cfg: { endpoint?: Endpoint | null; source?: LocalSource | null; allowedIps?: Cidr[] }): void {
    checkU32('peerId', peerId);
    const endpoint =
      cfg.endpoint === undefined || cfg.endpoint === null ? cfg.endpoint : checkEndpoint('endpoint', cfg.endpoint);
    const source = checkSource('source', cfg.source);
    const allowedIps = cfg.allowedIps === undefined ? undefined : checkCidrs('allowedIps', cfg.allowedIps);
    this.#check(this.#live().setPeer(peerId, endpoint, allowedIps, source), 'setPeer', { peerId });
  }

  /** Removes the peer with its keypairs (keys zeroed), allowed IPs and staged packets. */
  removePeer(peerId: number): void {
    checkU32('peerId', peerId);
    this.#check(this.#live().removePeer(peerId), 'removePeer', { peerId });
  }

  installKeypair(peerId: number, kp: Keypair): void {
    checkU32('peerId', peerId);
    checkU32('localIndex', kp.localIndex);
    checkU32('remoteIndex', kp.remoteIndex);
    checkKey('sendKey', kp.sendKey);
    checkKey('receiveKey', kp.receiveKey);
    if (typeof kp.initiator !== 'boolean') throw invalid('initiator', 'must be a boolean');
    const rc = this.#live().installKeypair(
      peerId,
      kp.localIndex,
      kp.remoteIndex,
      kp.sendKey,
      kp.receiveKey,
      kp.initiator,
    );
    this.#check(rc, 'installKeypair', { peerId, localIndex: kp.localIndex });
  }

  removeKeypair(peerId: number, localIndex: number): void {
    checkU32('peerId', peerId);
    checkU32('localIndex', localIndex);
    this.#check(this.#live().removeKeypair(peerId, localIndex), 'removeKeypair', { peerId, localIndex });
  }

  /** No more sending on the peer's keypairs (receiving continues until they are removed). */
  expireKeypairs(peerId: number): void {
    checkU32('peerId', peerId);
    this.#check(this.#live().expireKeypairs(peerId), 'expireKeypairs', { peerId });
  }

  dropQueued(peerId: number): void {
    checkU32('peerId', peerId);
    this.#check(this.#live().dropQueued(peerId), 'dropQueued', { peerId });
  }

  /** Sends a handshake message to the peer's endpoint (counted in tx). False when it has no endpoint or the send failed. */
  sendRaw(peerId: number, bytes: Uint8Array): boolean {
    checkU32('peerId', peerId);
    checkBytes('bytes', bytes);
    const rc = this.#live().sendRaw(peerId, bytes);
    if (rc === -ENOENT) this.#check(rc, 'sendRaw', { peerId });
    return rc === 0;
  }

  /**
   * Sends bytes to an endpoint that is not (yet) a peer's, e.g. a cookie reply, from the local
   * address `from` if given. False if the send failed.
   */
  sendRawTo(endpoint: Endpoint, bytes: Uint8Array, from: LocalSource | null = null): boolean {
    const to = checkEndpoint('endpoint', endpoint);
    checkBytes('bytes', bytes);
    return this.#live().sendRawTo(to, bytes, checkSource('from', from)) === 0;
  }

  /** An encrypted empty packet on the current keypair. False without a usable keypair or endpoint. */
  sendKeepalive(peerId: number): boolean {
    checkU32('peerId', peerId);
    const rc = this.#live().sendKeepalive(peerId);
    if (rc === -ENOENT) this.#check(rc, 'sendKeepalive', { peerId });
    return rc === 0;
  }

  /** Replaces the UDP sockets (a new listen port) while traffic flows. The device takes the new
   *  fds (null: none, not both) and closes the old ones once its receive thread has moved on. */
  setSockets(udp4Fd: number | null, udp6Fd: number | null): void {
    if (udp4Fd === null && udp6Fd === null) throw invalid('udp4Fd', 'at least one UDP socket is required');
    const four = udp4Fd === null ? -1 : checkFd('udp4Fd', udp4Fd);
    const six = udp6Fd === null ? -1 : checkFd('udp6Fd', udp6Fd);
    this.#check(this.#live().setSockets(four, six), 'setSockets', {});
  }

  /** Adds a received handshake message's length to the peer's rx bytes. */
  creditRx(peerId: number, bytes: number): void {
    checkU32('peerId', peerId);
    checkU32('bytes', bytes);
    this.#check(this.#live().creditRx(peerId, bytes), 'creditRx', { peerId });
  }

  /** Every peer's counters, times and endpoint (what `wg show` lists). */
  peerStats(): PeerStats[] {
    return this.#live().peerStats(false);
  }

  /**
   * Only the peers whose bytes, activity times, send counter, current keypair or handshake want
   * changed since the previous call (a new peer: since all zeros). The device's tick reads this,
   * so an idle device with 10,000 peers costs nothing per tick. peerStats() does not reset it.
   */
  changedPeerStats(): PeerStats[] {
    return this.#live().peerStats(true);
  }

  /** The peer whose allowed IPs hold the longest prefix containing address, or null. */
  lookup(address: string): number | null {
    checkAddress('address', address);
    const id = this.#live().lookup(address);
    if (id === undefined) throw invalid('address', 'must be an IPv4 or IPv6 literal', address);
    return id;
  }

  dropCounters(): Record<DropReason, number> {
    return this.#live().dropCounters();
  }

  /**
   * Reads the TUN link's MTU now, wherever the link is (it may have been moved to another
   * namespace), and pads to it from now on. null when the link was deleted.
   */
  refreshMtu(): number | null {
    const rc = this.#live().refreshMtu();
    if (rc === -EBADFD) return null;
    if (rc < 0) throw new DataplaneError('NATIVE_ERROR', `refreshMtu: errno ${-rc}`, { errno: -rc });
    return rc;
  }

  /** Tells the threads to stop without waiting: close() of many data planes then waits for all at once. */
  signalStop(): void {
    if (!this.#closed) this.#device.signalStop();
  }

  /**
   * Stops the threads, closes the fds, zeroes the keys. Idempotent. `leaveLink`: the TUN link
   * stays where it is (made persistent first), for a device whose namespace was deleted: the
   * kernel then unregisters it with that namespace's other links in one batch, where closing a
   * non-persistent TUN unregisters it alone (an RCU barrier each, ~50 ms, under the RTNL lock).
   * The result is then an fd that still holds the TUN (and so the namespace), for the caller to
   * close when the namespace may go (tun-release.ts); null when the link was not left (without
   * the option, or should the link refuse to stay: the close unregistered it as without it).
   */
  close(options: { leaveLink?: boolean } = {}): number | null {
    if (this.#closed) return null;
    this.#closed = true;
    const held = this.#device.close(options.leaveLink === true);
    return options.leaveLink === true && held >= 0 ? held : null;
  }
}
