/**
 * The WireGuard device core, sans I/O (boringtun style): given handshake
 * messages, data-plane activity reports and the time, it returns what the
 * device must do. It owns the static identity (private/public key and the
 * mac1/cookie keys derived from it), the peers (public key, preshared key,
 * pending handshake, keypair slots, cookie, timers, latest TAI64N), the index
 * table (receiver index → peer and handshake or keypair), the cookie checker
 * and the rate limiter. It does NOT own allowed IPs, endpoint resolution,
 * sockets, the TUN, or transport messages (type 4): those are the device's
 * and the C data plane's.
 *
 * Driving it (all times come from the injected clocks, never from the caller):
 *
 *   await ready();                                  // crypto.ts, once
 *   const core = new WireGuardProtocol({ privateKey });
 *   core.upsertPeer(publicKey, { presharedKey, persistentKeepalive });
 *   // a UDP datagram of type 1, 2 or 3 arrived from `source`:
 *   handle(core.receiveHandshake(bytes, source, underLoad));
 *   // every ~100 ms and after each batch of data-plane events:
 *   handle(core.tick(activityReportsSinceLastTick));
 *
 * Outputs, to be applied in order:
 * - send { peer, bytes }: send to the peer's current endpoint (after any
 *   `endpoint` output before it). Counts as tx bytes.
 * - sendTo { endpoint, bytes }: a cookie reply, to that source only.
 * - endpoint { peer, endpoint }: a handshake from the peer authenticated from
 *   this source: it is the peer's endpoint from now on (roaming).
 * - installKeypair { peer, keypair }: hand the keys to the data plane. If
 *   keypair.initiator, it becomes current at once (current → previous, or a
 *   pending next → previous); otherwise it becomes next (previous dropped)
 *   and must not be used to send until a packet has been received on it —
 *   the data plane then promotes it (next → current → previous) and reports
 *   `confirmedNextKeypair`. The slot rules are the kernel's; every keypair
 *   they drop is also named by a removeKeypair output, so a data plane that
 *   only follows install/remove by index stays in step.
 * - removeKeypair { peer, localIndex }: forget that keypair (expired, or
 *   pushed out of the slots). Unknown indices are a no-op.
 * - expireKeypairs { peer }: forget all the peer's keypairs and wipe them.
 * - sendKeepalive { peer }: send the queued packets if any, else one
 *   keepalive (empty payload), on the current keypair. Emitted only when the
 *   core knows a current keypair exists; otherwise it starts a handshake.
 * - dropQueued { peer }: the handshake was given up; drop queued packets.
 * - handshakeComplete { peer, at }: `at` is the wall clock (ms since epoch)
 *   for last_handshake_time; also in peerStatus().
 * - peerRemoved { peer }: the core dropped a peer by itself (its public key
 *   became our own after setPrivateKey).
 *
 * Nothing malformed throws: garbage, wrong sizes, failed MACs/AEADs, stale
 * TAI64N, floods and unknown indices are dropped, counted in `drops()` and
 * reported through `onDrop`, and leave the state as it was. Misuse of the
 * API (a key that is not 32 bytes, a keepalive interval out of range) throws
 * ProtocolError before changing anything.
 */
import {
  KEY_LENGTH,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_TRANSPORT,
  INITIATION_FLOOD_INTERVAL,
  REKEY_TIMEOUT_JITTER_MAX,
} from './constants.js';
import { DH_PUBLIC, equalBytes, randomBytes, wipe } from './crypto.js';
import { KeyFormatError } from '../netdef/errors.js';
import { isZeroKey, PrivateKey } from '../netdef/keys.js';
import { CookieChecker, CookieGenerator } from './cookie.js';
import type { Endpoint } from './endpoint.js';
import { parseMessage, type CookieReplyMessage, type InitiationMessage, type ResponseMessage } from './messages.js';
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  type InitiatorHandshake,
  type StaticIdentity,
} from './noise.js';
import { RateLimiter, rateLimitKey } from './ratelimiter.js';
import { isNewerTai64n, tai64nFromWallMs, type Tai64n } from './tai64n.js';
import {
  absorbReportedTimes,
  dueTimers,
  handshakeInProgress,
  isKeypairExpired,
  keypairExpiresAt,
  mayInitiate,
  newPeerTimers,
  nextTimerDueAt,
  noteAuthenticatedReceived,
  noteAuthenticatedSent,
  noteGaveUp,
  noteHandshakeComplete,
  noteInitiationSent,
  noteSessionDerived,
  shouldRekeyOnReceive,
  shouldRekeyOnSend,
  type PeerTimers,
} from './timers.js';

/** Session keys for the data plane. sendKey/receiveKey are non-enumerable so that logging an output never prints them. */
export interface InstalledKeypair {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  readonly initiator: boolean;
  /** Monotonic clock (ms) when the keypair was derived. */
  readonly createdAt: number;
}

export type Output =
  | { readonly kind: 'send'; readonly peer: Uint8Array; readonly bytes: Uint8Array }
  | { readonly kind: 'sendTo'; readonly endpoint: Endpoint; readonly bytes: Uint8Array }
  | { readonly kind: 'endpoint'; readonly peer: Uint8Array; readonly endpoint: Endpoint }
  | { readonly kind: 'installKeypair'; readonly peer: Uint8Array; readonly keypair: InstalledKeypair }
  | { readonly kind: 'removeKeypair'; readonly peer: Uint8Array; readonly localIndex: number }
  | { readonly kind: 'expireKeypairs'; readonly peer: Uint8Array }
  | { readonly kind: 'sendKeepalive'; readonly peer: Uint8Array }
  | { readonly kind: 'dropQueued'; readonly peer: Uint8Array }
  | { readonly kind: 'handshakeComplete'; readonly peer: Uint8Array; readonly at: number }
  | { readonly kind: 'peerRemoved'; readonly peer: Uint8Array };

/** What the data plane saw of one peer since the previous tick (times in the core's ms clock, null = never). */
export interface PeerActivity {
  readonly publicKey: Uint8Array;
  /** Last transport message with a non-empty payload sent / received. */
  readonly lastDataSentAt: number | null;
  readonly lastDataReceivedAt: number | null;
  /** Last transport message of any kind (keepalives included) sent / received and authenticated. */
  readonly lastAuthenticatedSentAt: number | null;
  readonly lastAuthenticatedReceivedAt: number | null;
  /** The current keypair's next nonce; omitted when unchanged since the previous report. */
  readonly sendCounter?: bigint;
  /** Packets are queued and there is no usable keypair: an edge, reported when it happens. */
  readonly wantsHandshake: boolean;
  /** The first packet arrived on the `next` keypair, which the data plane promoted to current. */
  readonly confirmedNextKeypair: boolean;
}

export interface PeerOptions {
  /** 32 bytes; null or all zeros means none. Omitted: unchanged (new peers: none). */
  readonly presharedKey?: Uint8Array | null;
  /** Seconds, 0 (off) to 65535. Omitted: unchanged (new peers: off). */
  readonly persistentKeepalive?: number;
}

export interface PeerStatus {
  readonly lastHandshakeWallMs: number | null;
  readonly persistentKeepalive: number;
  readonly hasPresharedKey: boolean;
  readonly handshakeInProgress: boolean;
  readonly keypairs: {
    readonly current: number | null;
    readonly previous: number | null;
    readonly next: number | null;
  };
}

export type DropReason =
  | 'too-short'
  | 'unknown-type'
  | 'wrong-size'
  | 'transport-not-handshake'
  | 'no-identity'
  | 'mac1'
  | 'cookie-sent'
  | 'bad-source'
  | 'rate-limited'
  | 'dh-zero'
  | 'static-decrypt'
  | 'timestamp-decrypt'
  | 'empty-decrypt'
  | 'unknown-peer'
  | 'stale-timestamp'
  | 'initiation-flood'
  | 'unknown-index'
  | 'no-pending-handshake'
  | 'cookie-decrypt'
  | 'internal-error';

export interface ProtocolOptions {
  readonly privateKey: Uint8Array | null;
  /** Monotonic milliseconds. Default: performance.now(). */
  readonly clock?: () => number;
  /** Milliseconds since the epoch, for TAI64N and last_handshake_time. Default: Date.now(). */
  readonly wallClock?: () => number;
  readonly random?: (length: number) => Uint8Array;
  /**
   * Milliseconds in [0, REKEY_TIMEOUT_JITTER_MAX) added to each retransmission and new-handshake
   * deadline. Default: derived from `random` when that is given (deterministic tests), else a
   * fast non-cryptographic PRNG, as the kernel (get_random_u32_below) and wireguard-go do: the
   * jitter only keeps peers from handshaking in lockstep, it guards no secret.
   */
  readonly jitter?: () => number;
  /** Called for every dropped message; `detail` never contains key material. */
  readonly onDrop?: (reason: DropReason, detail: string) => void;
}

export class ProtocolError extends Error {
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ProtocolError';
  }
}

interface KeypairRecord {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly initiator: boolean;
  readonly createdAt: number;
}

interface PeerState {
  readonly publicKey: Uint8Array;
  presharedKey: Uint8Array;
  persistentKeepalive: number;
  readonly cookies: CookieGenerator;
  pending: InitiatorHandshake | null;
  latestTimestamp: Tai64n | null;
  lastInitiationConsumedAt: number | null;
  current: KeypairRecord | null;
  previous: KeypairRecord | null;
  next: KeypairRecord | null;
  sendCounter: bigint;
  lastHandshakeWallMs: number | null;
  readonly timers: PeerTimers;
  /** Earliest monotonic time a timer or keypair expiry of this peer is due (#refreshDue). */
  dueAt: number;
}

type IndexEntry = { readonly peer: PeerState; kind: 'handshake' | 'keypair' };

interface Identity extends StaticIdentity {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly checker: CookieChecker;
}

export class WireGuardProtocol {
  readonly #clock: () => number;
  readonly #wallClock: () => number;
  readonly #random: (length: number) => Uint8Array;
  readonly #jitter: () => number;
  readonly #onDrop: ((reason: DropReason, detail: string) => void) | undefined;
  #identity: Identity | null = null;
  readonly #peers = new Map<string, PeerState>();
  readonly #indices = new Map<number, IndexEntry>();
  readonly #rateLimiter = new RateLimiter();
  readonly #drops = new Map<DropReason, number>();
  /** No peer is due before this (a lower bound: peers whose deadline moved later leave it early). */
  #earliestDue = Infinity;

  constructor(options: ProtocolOptions) {
    this.#clock = options.clock ?? (() => performance.now());
    this.#wallClock = options.wallClock ?? (() => Date.now());
    this.#random = options.random ?? randomBytes;
    this.#jitter = options.jitter ?? (options.random ? () => jitterFromBytes(this.#random(2)) : fastJitter);
    this.#onDrop = options.onDrop;
    if (options.privateKey) this.#identity = this.#makeIdentity(options.privateKey);
  }

  /** Our public key, or null without a private key. */
  get publicKey(): Uint8Array | null {
    return this.#identity?.publicKey ?? null;
  }

  /**
   * Replaces the private key (null or all zeros: none). Every peer's keypairs
   * and pending handshakes are dropped: they were authenticated with the old
   * static key, so keeping them would let traffic continue under an identity
   * the operator just revoked, and a pending initiation could never complete
   * (the peer answers to the new key). A peer whose public key is our new
   * public key is removed, as the kernel does. Peers with a persistent
   * keepalive start a handshake at once, so hidden nodes reconnect without
   * waiting for their interval.
   */
  setPrivateKey(privateKey: Uint8Array | null): Output[] {
    const next =
      privateKey === null ||
      (privateKey instanceof Uint8Array && privateKey.length === KEY_LENGTH && isZeroKey(privateKey))
        ? null
        : this.#makeIdentity(privateKey);
    if (next && this.#identity && equalBytes(next.privateKey, this.#identity.privateKey)) return [];
    const outputs: Output[] = [];
    const old = this.#identity;
    this.#identity = next;
    if (old) wipe(old.privateKey);
    for (const peer of [...this.#peers.values()]) {
      if (next && equalBytes(peer.publicKey, next.publicKey)) {
        outputs.push(...this.#forgetPeer(peer), { kind: 'peerRemoved', peer: peer.publicKey });
        continue;
      }
      outputs.push(...this.#dropSessions(peer));
    }
    if (next) {
      for (const peer of this.#peers.values()) {
        if (peer.persistentKeepalive > 0) outputs.push(...this.#initiate(peer, this.#clock(), false));
      }
    }
    for (const peer of this.#peers.values()) this.#refreshDue(peer);
    return outputs;
  }

  /**
   * Adds a peer or updates one. Turning a persistent keepalive on (from off)
   * sends a keepalive at once (or starts a handshake without a session), as
   * wg(8) users expect. A peer with our own public key is ignored.
   */
  upsertPeer(publicKey: Uint8Array, options: PeerOptions = {}): Output[] {
    const key = keyFromBytesOrThrow(publicKey, 'public_key');
    let presharedKey: Uint8Array | undefined;
    if (options.presharedKey !== undefined) {
      if (options.presharedKey === null) presharedKey = new Uint8Array(KEY_LENGTH);
      else presharedKey = Uint8Array.from(keyFromBytesOrThrow(options.presharedKey, 'preshared_key'));
    }
    const keepalive = options.persistentKeepalive;
    if (keepalive !== undefined && !(Number.isInteger(keepalive) && keepalive >= 0 && keepalive <= 65535)) {
      throw new ProtocolError('persistent_keepalive_interval', 'must be an integer number of seconds from 0 to 65535');
    }
    if (this.#identity && equalBytes(key, this.#identity.publicKey)) return [];

    let peer = this.#peers.get(keyHex(key));
    if (!peer) {
      peer = {
        publicKey: key,
        presharedKey: new Uint8Array(KEY_LENGTH),
        persistentKeepalive: 0,
        cookies: new CookieGenerator(key),
        pending: null,
        latestTimestamp: null,
        lastInitiationConsumedAt: null,
        current: null,
        previous: null,
        next: null,
        sendCounter: 0n,
        lastHandshakeWallMs: null,
        timers: newPeerTimers(),
        dueAt: Infinity,
      };
      this.#peers.set(keyHex(key), peer);
    }
    if (presharedKey) {
      wipe(peer.presharedKey);
      peer.presharedKey = presharedKey;
    }
    const turnedOn = keepalive !== undefined && keepalive > 0 && peer.persistentKeepalive === 0;
    if (keepalive !== undefined) peer.persistentKeepalive = keepalive;
    const outputs = turnedOn ? this.#keepaliveOrHandshake(peer, this.#clock()) : [];
    this.#refreshDue(peer);
    return outputs;
  }

  /** Removes a peer: its keypairs and indices are dropped, and so are its queued packets. */
  removePeer(publicKey: Uint8Array): Output[] {
    const peer = this.#peerByKey(publicKey);
    return peer ? this.#forgetPeer(peer) : [];
  }

  hasPeer(publicKey: Uint8Array): boolean {
    return this.#peerByKey(publicKey) !== undefined;
  }

  /**
   * Starts a handshake with a peer now (unless one was sent less than
   * REKEY_TIMEOUT ago: initiations are rate limited per peer, as in the kernel).
   */
  initiateHandshake(publicKey: Uint8Array): Output[] {
    const peer = this.#peerByKey(publicKey);
    if (!peer) return [];
    const outputs = this.#initiate(peer, this.#clock(), false);
    this.#refreshDue(peer);
    return outputs;
  }

  /**
   * A handshake datagram (type 1 initiation, 2 response, 3 cookie reply) from
   * `source`. `underLoad` is the device's judgement (e.g. its handshake queue
   * has been deep for a second): initiations and responses then need a valid
   * mac2, else the sender gets a cookie reply, and each source is rate limited.
   */
  receiveHandshake(bytes: Uint8Array, source: Endpoint, underLoad: boolean): Output[] {
    try {
      return this.#receiveHandshake(bytes, source, underLoad);
    } catch (error) {
      // Parsing and the crypto wrappers report failures as values; reaching
      // this means a bug, and a bug must still not let a packet crash the device.
      return this.#drop('internal-error', `internal error: ${(error as Error)?.name ?? 'unknown'}`);
    }
  }

  /** The data plane's reports since the last tick, then every timer that expired. */
  tick(activity: readonly PeerActivity[] = []): Output[] {
    const now = this.#clock();
    const outputs: Output[] = [];
    for (const report of activity) {
      const peer = report && report.publicKey instanceof Uint8Array ? this.#peerByKey(report.publicKey) : undefined;
      if (!peer) continue;
      outputs.push(...this.#absorb(peer, report, now));
      this.#refreshDue(peer);
    }
    // Only peers with something due: #runTimers does nothing for the others (dueAt is the
    // earliest moment any of its timers or keypair expiries could fire). Before the earliest
    // deadline of all, not even the walk over the peers is needed.
    if (now < this.#earliestDue) return outputs;
    let earliest = Infinity;
    for (const peer of this.#peers.values()) {
      if (now >= peer.dueAt) {
        outputs.push(...this.#runTimers(peer, now));
        this.#refreshDue(peer);
      }
      if (peer.dueAt < earliest) earliest = peer.dueAt;
    }
    this.#earliestDue = earliest;
    return outputs;
  }

  /**
   * No timer or keypair expiry is due before this (core clock ms; Infinity: none). A lower bound:
   * a tick at it may find nothing to do, and then tells the next one.
   */
  get nextDueAt(): number {
    return this.#earliestDue;
  }

  peerStatus(publicKey: Uint8Array): PeerStatus | null {
    const peer = this.#peerByKey(publicKey);
    if (!peer) return null;
    return {
      lastHandshakeWallMs: peer.lastHandshakeWallMs,
      persistentKeepalive: peer.persistentKeepalive,
      hasPresharedKey: !isZeroKey(peer.presharedKey),
      handshakeInProgress: handshakeInProgress(peer.timers),
      keypairs: {
        current: peer.current?.localIndex ?? null,
        previous: peer.previous?.localIndex ?? null,
        next: peer.next?.localIndex ?? null,
      },
    };
  }

  /** Counts of dropped messages by reason, since construction. */
  drops(): Record<string, number> {
    return Object.fromEntries(this.#drops);
  }

  /** Number of receiver indices in use (pending handshakes and keypairs); for tests and metrics. */
  get indexCount(): number {
    return this.#indices.size;
  }

  // ---------------------------------------------------------------- receive

  #receiveHandshake(bytes: Uint8Array, source: Endpoint, underLoad: boolean): Output[] {
    const parsed = parseMessage(bytes);
    if (!parsed.ok) return this.#drop(parsed.reason, parsed.detail);
    const message = parsed.message;
    const now = this.#clock();
    if (message.type === MESSAGE_TRANSPORT)
      return this.#drop('transport-not-handshake', 'type 4 belongs to the data plane');
    if (message.type === MESSAGE_COOKIE_REPLY) return this.#receiveCookieReply(message, now);

    const identity = this.#identity;
    if (!identity) return this.#drop('no-identity', 'no private key set');
    if (!identity.checker.checkMac1(bytes))
      return this.#drop('mac1', `type ${message.type} message with an invalid mac1`);
    if (underLoad) {
      if (!identity.checker.checkMac2(bytes, source, now)) {
        const reply = identity.checker.createReply(bytes, message.senderIndex, source, now);
        if (!reply) return this.#drop('bad-source', 'source endpoint is not a numeric address and port');
        this.#count('cookie-sent', 'under load without a valid mac2: cookie reply sent');
        return [{ kind: 'sendTo', endpoint: { address: source.address, port: source.port }, bytes: reply }];
      }
      const key = rateLimitKey(source);
      if (!key) return this.#drop('bad-source', 'source endpoint is not a numeric address');
      if (!this.#rateLimiter.allow(key, now)) return this.#drop('rate-limited', 'source over its handshake rate');
    }
    return message.type === MESSAGE_INITIATION
      ? this.#receiveInitiation(identity, message, source, now)
      : this.#receiveResponse(identity, message as ResponseMessage, source, now);
  }

  #receiveInitiation(identity: Identity, message: InitiationMessage, source: Endpoint, now: number): Output[] {
    const consumed = consumeInitiation(identity, message);
    if (!consumed.ok) return this.#drop(consumed.reason, 'initiation failed to decrypt');
    const peer = this.#peerByKey(consumed.initiatorStatic);
    if (!peer) return this.#drop('unknown-peer', 'initiation from a static key that is not a peer');
    if (!isNewerTai64n(consumed.timestamp, peer.latestTimestamp))
      return this.#drop('stale-timestamp', 'initiation timestamp not newer than the last one (replay)');
    if (peer.lastInitiationConsumedAt !== null && now - peer.lastInitiationConsumedAt < INITIATION_FLOOD_INTERVAL) {
      return this.#drop('initiation-flood', `initiation within ${INITIATION_FLOOD_INTERVAL} ms of the previous one`);
    }
    const localIndex = this.#allocateIndex(peer, 'keypair');
    const response = createResponse(consumed, peer.presharedKey, localIndex, this.#random);
    if (!response.ok) {
      this.#indices.delete(localIndex);
      return this.#drop(response.reason, 'response could not be derived');
    }
    // Authenticated from here on: commit.
    peer.latestTimestamp = consumed.timestamp;
    peer.lastInitiationConsumedAt = now;
    this.#dropPending(peer); // the peer's initiation replaces ours, as in the kernel
    peer.cookies.addMacs(response.bytes, now);
    const endpoint: Endpoint = { address: source.address, port: source.port };
    const keypair = this.#makeKeypair(
      { localIndex, remoteIndex: consumed.remoteIndex, initiator: false, createdAt: now },
      response.keys,
    );
    noteAuthenticatedReceived(peer.timers, now);
    noteSessionDerived(peer.timers, now);
    const outputs: Output[] = [{ kind: 'endpoint', peer: peer.publicKey, endpoint }];
    outputs.push(...this.#installKeypair(peer, keypair));
    outputs.push({ kind: 'send', peer: peer.publicKey, bytes: response.bytes });
    noteAuthenticatedSent(peer.timers, now);
    this.#refreshDue(peer);
    return outputs;
  }

  #receiveResponse(identity: Identity, message: ResponseMessage, source: Endpoint, now: number): Output[] {
    const entry = this.#indices.get(message.receiverIndex);
    if (entry?.kind !== 'handshake')
      return this.#drop('unknown-index', 'response to an index with no pending initiation');
    const peer = entry.peer;
    const pending = peer.pending;
    if (!pending || pending.localIndex !== message.receiverIndex)
      return this.#drop('no-pending-handshake', 'response to a handshake no longer pending');
    const keys = consumeResponse(identity, pending, peer.presharedKey, message);
    if (!keys.ok) return this.#drop(keys.reason, 'response failed to authenticate');
    // Authenticated: the handshake index now names the keypair.
    peer.pending = null;
    wipe(pending.ephemeralPrivate);
    entry.kind = 'keypair';
    const keypair = this.#makeKeypair(
      { localIndex: message.receiverIndex, remoteIndex: message.senderIndex, initiator: true, createdAt: now },
      keys,
    );
    noteAuthenticatedReceived(peer.timers, now);
    noteSessionDerived(peer.timers, now);
    noteHandshakeComplete(peer.timers);
    peer.lastHandshakeWallMs = this.#wallClock();
    const outputs: Output[] = [
      { kind: 'endpoint', peer: peer.publicKey, endpoint: { address: source.address, port: source.port } },
    ];
    outputs.push(...this.#installKeypair(peer, keypair));
    outputs.push({ kind: 'handshakeComplete', peer: peer.publicKey, at: peer.lastHandshakeWallMs });
    // The initiator confirms the session at once so the responder may start sending.
    outputs.push({ kind: 'sendKeepalive', peer: peer.publicKey });
    noteAuthenticatedSent(peer.timers, now);
    this.#refreshDue(peer);
    return outputs;
  }

  #receiveCookieReply(message: CookieReplyMessage, now: number): Output[] {
    const entry = this.#indices.get(message.receiverIndex);
    if (!entry) return this.#drop('unknown-index', 'cookie reply to an unknown index');
    if (!entry.peer.cookies.consumeReply(message, now))
      return this.#drop('cookie-decrypt', 'cookie reply does not decrypt with the last mac1 sent');
    return [];
  }

  // ------------------------------------------------------------------ ticks

  #absorb(peer: PeerState, report: PeerActivity, now: number): Output[] {
    const outputs: Output[] = [];
    if (report.confirmedNextKeypair && peer.next) outputs.push(...this.#confirmNext(peer));
    if (typeof report.sendCounter === 'bigint' && report.sendCounter >= 0n) peer.sendCounter = report.sendCounter;
    const seen = absorbReportedTimes(peer.timers, report, this.#jitter);
    const current = peer.current;
    if (current && !isKeypairExpired(current, now, peer.sendCounter)) {
      const sentAt = peer.timers.lastAuthenticatedSentAt;
      const receivedAt = peer.timers.lastAuthenticatedReceivedAt;
      if (
        seen.sentAuthenticated &&
        sentAt !== null &&
        shouldRekeyOnSend(current, sentAt, peer.sendCounter) &&
        !handshakeInProgress(peer.timers)
      ) {
        outputs.push(...this.#initiate(peer, now, false));
      } else if (
        seen.receivedAuthenticated &&
        receivedAt !== null &&
        shouldRekeyOnReceive(current, receivedAt, peer.timers)
      ) {
        peer.timers.sentLastMinuteHandshake = true;
        outputs.push(...this.#initiate(peer, now, false));
      }
    }
    if (report.wantsHandshake && !handshakeInProgress(peer.timers)) outputs.push(...this.#initiate(peer, now, false));
    return outputs;
  }

  #runTimers(peer: PeerState, now: number): Output[] {
    const outputs: Output[] = [];
    for (const slot of ['previous', 'current', 'next'] as const) {
      const record = peer[slot];
      if (record && isKeypairExpired(record, now, slot === 'current' ? peer.sendCounter : 0n)) {
        peer[slot] = null;
        this.#indices.delete(record.localIndex);
        outputs.push({ kind: 'removeKeypair', peer: peer.publicKey, localIndex: record.localIndex });
      }
    }
    for (const timer of dueTimers(peer.timers, now, peer.persistentKeepalive * 1000)) {
      switch (timer) {
        case 'zeroKeys':
          peer.timers.zeroKeysAt = null;
          outputs.push(...this.#dropSessions(peer));
          break;
        case 'giveUpHandshake':
          noteGaveUp(peer.timers, now);
          outputs.push({ kind: 'dropQueued', peer: peer.publicKey });
          break;
        case 'retransmitHandshake':
          outputs.push(...this.#initiate(peer, now, true));
          break;
        case 'newHandshake':
          peer.timers.unansweredSendSince = null;
          peer.timers.newHandshakeAt = null;
          outputs.push(...this.#initiate(peer, now, false));
          break;
        case 'passiveKeepalive':
        case 'persistentKeepalive':
          outputs.push(...this.#keepaliveOrHandshake(peer, now));
          break;
      }
    }
    return outputs;
  }

  // ------------------------------------------------------------- handshakes

  #initiate(peer: PeerState, now: number, isRetry: boolean): Output[] {
    const identity = this.#identity;
    if (!identity) return [];
    if (!isRetry && !mayInitiate(peer.timers, now)) return [];
    this.#dropPending(peer);
    const localIndex = this.#allocateIndex(peer, 'handshake');
    const created = createInitiation(
      identity,
      peer.publicKey,
      localIndex,
      tai64nFromWallMs(this.#wallClock()),
      this.#random,
    );
    if (!created.ok) {
      this.#indices.delete(localIndex);
      this.#count('dh-zero', 'peer public key gives an all-zero shared secret: no initiation');
      return [];
    }
    peer.cookies.addMacs(created.bytes, now);
    peer.pending = created.handshake;
    noteInitiationSent(peer.timers, now, this.#jitter(), isRetry);
    return [{ kind: 'send', peer: peer.publicKey, bytes: created.bytes }];
  }

  #keepaliveOrHandshake(peer: PeerState, now: number): Output[] {
    const current = peer.current;
    if (current && !isKeypairExpired(current, now, peer.sendCounter)) {
      noteAuthenticatedSent(peer.timers, now);
      return [{ kind: 'sendKeepalive', peer: peer.publicKey }];
    }
    // No session to carry the keepalive: like the kernel's queued keepalive, it asks for a handshake.
    noteAuthenticatedSent(peer.timers, now); // re-arms the persistent keepalive even if the initiation is rate limited
    return this.#initiate(peer, now, false);
  }

  // --------------------------------------------------------------- keypairs

  #makeKeypair(record: KeypairRecord, keys: { sendKey: Uint8Array; receiveKey: Uint8Array }): InstalledKeypair {
    const keypair = { ...record } as InstalledKeypair;
    Object.defineProperty(keypair, 'sendKey', { value: keys.sendKey, enumerable: false });
    Object.defineProperty(keypair, 'receiveKey', { value: keys.receiveKey, enumerable: false });
    return Object.freeze(keypair);
  }

  /** The kernel's slot rules (noise.c add_new_keypair), emitting a removeKeypair for each keypair pushed out. */
  #installKeypair(peer: PeerState, keypair: InstalledKeypair): Output[] {
    const record: KeypairRecord = {
      localIndex: keypair.localIndex,
      remoteIndex: keypair.remoteIndex,
      initiator: keypair.initiator,
      createdAt: keypair.createdAt,
    };
    const dropped: (KeypairRecord | null)[] = [];
    if (record.initiator) {
      if (peer.next) {
        dropped.push(peer.current, peer.previous);
        peer.previous = peer.next;
        peer.next = null;
      } else {
        dropped.push(peer.previous);
        peer.previous = peer.current;
      }
      peer.current = record;
      peer.sendCounter = 0n;
    } else {
      dropped.push(peer.next, peer.previous);
      peer.next = record;
      peer.previous = null;
    }
    const outputs: Output[] = [{ kind: 'installKeypair', peer: peer.publicKey, keypair }];
    for (const old of dropped) {
      if (!old) continue;
      this.#indices.delete(old.localIndex);
      outputs.push({ kind: 'removeKeypair', peer: peer.publicKey, localIndex: old.localIndex });
    }
    return outputs;
  }

  /** The data plane received on `next`: next → current → previous; the handshake is complete for the responder. */
  #confirmNext(peer: PeerState): Output[] {
    const outputs: Output[] = [];
    const old = peer.previous;
    if (old) {
      this.#indices.delete(old.localIndex);
      outputs.push({ kind: 'removeKeypair', peer: peer.publicKey, localIndex: old.localIndex });
    }
    peer.previous = peer.current;
    peer.current = peer.next;
    peer.next = null;
    peer.sendCounter = 0n;
    noteHandshakeComplete(peer.timers);
    peer.lastHandshakeWallMs = this.#wallClock();
    outputs.push({ kind: 'handshakeComplete', peer: peer.publicKey, at: peer.lastHandshakeWallMs });
    return outputs;
  }

  /** Drops every keypair and the pending handshake of a peer (key change, key zeroing). */
  #dropSessions(peer: PeerState): Output[] {
    this.#dropPending(peer);
    for (const slot of ['current', 'previous', 'next'] as const) {
      const record = peer[slot];
      if (record) this.#indices.delete(record.localIndex);
      peer[slot] = null;
    }
    peer.sendCounter = 0n;
    peer.timers.retransmitAt = null;
    peer.timers.attemptStartedAt = null;
    peer.timers.zeroKeysAt = null;
    return [{ kind: 'expireKeypairs', peer: peer.publicKey }];
  }

  #forgetPeer(peer: PeerState): Output[] {
    const outputs = this.#dropSessions(peer);
    wipe(peer.presharedKey);
    this.#peers.delete(keyHex(peer.publicKey));
    outputs.push({ kind: 'dropQueued', peer: peer.publicKey });
    return outputs;
  }

  #dropPending(peer: PeerState): void {
    if (!peer.pending) return;
    this.#indices.delete(peer.pending.localIndex);
    wipe(peer.pending.ephemeralPrivate);
    peer.pending = null;
  }

  // ------------------------------------------------------------------ misc

  /** A random 32-bit receiver index unused across the device. */
  #allocateIndex(peer: PeerState, kind: IndexEntry['kind']): number {
    for (;;) {
      const bytes = this.#random(4);
      const index = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
      if (!this.#indices.has(index)) {
        this.#indices.set(index, { peer, kind });
        return index;
      }
    }
  }

  /** Recomputes peer.dueAt; called after anything that changes a peer's timers, keypairs or keepalive. */
  #refreshDue(peer: PeerState): void {
    let due = nextTimerDueAt(peer.timers, peer.persistentKeepalive * 1000);
    if (peer.previous) due = Math.min(due, keypairExpiresAt(peer.previous, 0n));
    if (peer.current) due = Math.min(due, keypairExpiresAt(peer.current, peer.sendCounter));
    if (peer.next) due = Math.min(due, keypairExpiresAt(peer.next, 0n));
    peer.dueAt = due;
    if (due < this.#earliestDue) this.#earliestDue = due;
  }

  #peerByKey(publicKey: Uint8Array): PeerState | undefined {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_LENGTH) return undefined;
    return this.#peers.get(keyHex(publicKey));
  }

  #makeIdentity(privateKey: Uint8Array): Identity {
    let key: Uint8Array;
    try {
      key = PrivateKey.fromBytes(privateKey, 'private_key').bytes(); // checked, clamped, not all-zero
    } catch (error) {
      if (error instanceof KeyFormatError) throw new ProtocolError('private_key', error.reason);
      throw error;
    }
    const publicKey = DH_PUBLIC(key);
    return { privateKey: key, publicKey, checker: new CookieChecker(publicKey, this.#random) };
  }

  #count(reason: DropReason, detail: string): void {
    this.#drops.set(reason, (this.#drops.get(reason) ?? 0) + 1);
    this.#onDrop?.(reason, detail);
  }

  #drop(reason: DropReason, detail: string): Output[] {
    this.#count(reason, detail);
    return [];
  }
}

function jitterFromBytes(bytes: Uint8Array): number {
  return (((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0)) % REKEY_TIMEOUT_JITTER_MAX;
}

function fastJitter(): number {
  return Math.floor(Math.random() * REKEY_TIMEOUT_JITTER_MAX);
}

/** A copy of a 32-byte key (the core keeps keys as bytes: it computes on them and hands them to C). */
function keyFromBytesOrThrow(bytes: Uint8Array, field: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_LENGTH) {
    throw new ProtocolError(field, `must be ${KEY_LENGTH} bytes`);
  }
  return Uint8Array.from(bytes);
}

function keyHex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}
