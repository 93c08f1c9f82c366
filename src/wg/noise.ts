/**
 * Noise_IKpsk2 as WireGuard uses it (protocol paper section 5.4.2–5.4.5):
 * the pure computations of the handshake, with no state beyond what is
 * passed in and returned. protocol.ts owns the per-peer state (which
 * handshake is pending, timestamps, indices) and calls these functions.
 *
 * - `createInitiation` / `consumeResponse`: the initiator's two steps.
 * - `consumeInitiation` / `createResponse`: the responder's two steps. The
 *   initiation is decrypted before the peer is known (its static key is
 *   inside), so the caller looks up the peer, checks TAI64N and the flood
 *   limit, and only then creates the response.
 * - `deriveTransportKeys`: the final KDF2(C, ε) split into send/receive keys.
 *
 * Every failure (bad AEAD tag, all-zero DH result) is a `NoiseFailure` value,
 * never an exception. Messages come out without mac1/mac2; cookie.ts adds them.
 */
import { AEAD_TAG_LENGTH, CONSTRUCTION, IDENTIFIER, KEY_LENGTH, TAI64N_LENGTH } from './constants.js';
import { AEAD, AEAD_OPEN, DH, DH_GENERATE, HASH, KDF1, KDF2, KDF3, randomBytes } from './crypto.js';
import { serializeInitiation, serializeResponse, type InitiationMessage, type ResponseMessage } from './messages.js';
import type { Tai64n } from './tai64n.js';

const TEXT = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** C = HASH(CONSTRUCTION), the chaining key every handshake starts from. */
export const INITIAL_CHAINING_KEY: Uint8Array = HASH(TEXT.encode(CONSTRUCTION));
/** H = HASH(C ‖ IDENTIFIER), the hash every handshake starts from. */
export const INITIAL_HASH: Uint8Array = HASH(INITIAL_CHAINING_KEY, TEXT.encode(IDENTIFIER));

export interface StaticIdentity {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export type NoiseFailureReason = 'dh-zero' | 'static-decrypt' | 'timestamp-decrypt' | 'empty-decrypt';
export interface NoiseFailure {
  readonly ok: false;
  readonly reason: NoiseFailureReason;
}
const failure = (reason: NoiseFailureReason): NoiseFailure => ({ ok: false, reason });

/** What the initiator keeps between sending the initiation and receiving the response. */
export interface InitiatorHandshake {
  readonly localIndex: number;
  readonly peerPublicKey: Uint8Array;
  readonly ephemeralPrivate: Uint8Array;
  readonly chainingKey: Uint8Array;
  readonly hash: Uint8Array;
}

/** A decrypted initiation, before the responder has decided to answer it. */
export interface ConsumedInitiation {
  readonly initiatorStatic: Uint8Array;
  readonly timestamp: Tai64n;
  readonly remoteIndex: number;
  readonly remoteEphemeral: Uint8Array;
  readonly chainingKey: Uint8Array;
  readonly hash: Uint8Array;
}

export interface TransportKeys {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
}

/** The initial hash mixed with the responder's static public key (both sides start here). */
function startHash(responderStatic: Uint8Array): Uint8Array {
  return HASH(INITIAL_HASH, responderStatic);
}

export function createInitiation(
  local: StaticIdentity,
  peerPublicKey: Uint8Array,
  localIndex: number,
  timestamp: Tai64n,
  random: (length: number) => Uint8Array = randomBytes,
): { ok: true; bytes: Uint8Array; handshake: InitiatorHandshake } | NoiseFailure {
  let hash = startHash(peerPublicKey);
  const ephemeral = DH_GENERATE(random);
  let [chainingKey] = KDF1(INITIAL_CHAINING_KEY, ephemeral.publicKey);
  hash = HASH(hash, ephemeral.publicKey);

  const es = DH(ephemeral.privateKey, peerPublicKey);
  if (!es) return failure('dh-zero');
  let key: Uint8Array;
  [chainingKey, key] = KDF2(chainingKey, es);
  const encryptedStatic = AEAD(key, 0n, local.publicKey, hash);
  hash = HASH(hash, encryptedStatic);

  const ss = DH(local.privateKey, peerPublicKey);
  if (!ss) return failure('dh-zero');
  [chainingKey, key] = KDF2(chainingKey, ss);
  const encryptedTimestamp = AEAD(key, 0n, timestamp, hash);
  hash = HASH(hash, encryptedTimestamp);

  const bytes = serializeInitiation({
    senderIndex: localIndex,
    unencryptedEphemeral: ephemeral.publicKey,
    encryptedStatic,
    encryptedTimestamp,
  });
  return {
    ok: true,
    bytes,
    handshake: {
      localIndex,
      peerPublicKey: Uint8Array.from(peerPublicKey),
      ephemeralPrivate: ephemeral.privateKey,
      chainingKey,
      hash,
    },
  };
}

export function consumeInitiation(
  local: StaticIdentity,
  message: InitiationMessage,
): ({ ok: true } & ConsumedInitiation) | NoiseFailure {
  let hash = startHash(local.publicKey);
  const remoteEphemeral = message.unencryptedEphemeral;
  let [chainingKey] = KDF1(INITIAL_CHAINING_KEY, remoteEphemeral);
  hash = HASH(hash, remoteEphemeral);

  const es = DH(local.privateKey, remoteEphemeral);
  if (!es) return failure('dh-zero');
  let key: Uint8Array;
  [chainingKey, key] = KDF2(chainingKey, es);
  const initiatorStatic = AEAD_OPEN(key, 0n, message.encryptedStatic, hash);
  if (!initiatorStatic || initiatorStatic.length !== KEY_LENGTH) return failure('static-decrypt');
  hash = HASH(hash, message.encryptedStatic);

  const ss = DH(local.privateKey, initiatorStatic);
  if (!ss) return failure('dh-zero');
  [chainingKey, key] = KDF2(chainingKey, ss);
  const timestamp = AEAD_OPEN(key, 0n, message.encryptedTimestamp, hash);
  if (!timestamp || timestamp.length !== TAI64N_LENGTH) return failure('timestamp-decrypt');
  hash = HASH(hash, message.encryptedTimestamp);

  return {
    ok: true,
    initiatorStatic,
    timestamp,
    remoteIndex: message.senderIndex,
    remoteEphemeral: Uint8Array.from(remoteEphemeral),
    chainingKey,
    hash,
  };
}

/** The responder's message and, already, its transport keys (it derives them as it answers). */
export function createResponse(
  consumed: ConsumedInitiation,
  presharedKey: Uint8Array,
  localIndex: number,
  random: (length: number) => Uint8Array = randomBytes,
): { ok: true; bytes: Uint8Array; keys: TransportKeys } | NoiseFailure {
  const ephemeral = DH_GENERATE(random);
  let [chainingKey] = KDF1(consumed.chainingKey, ephemeral.publicKey);
  let hash = HASH(consumed.hash, ephemeral.publicKey);

  const ee = DH(ephemeral.privateKey, consumed.remoteEphemeral);
  if (!ee) return failure('dh-zero');
  [chainingKey] = KDF1(chainingKey, ee);
  const se = DH(ephemeral.privateKey, consumed.initiatorStatic);
  if (!se) return failure('dh-zero');
  [chainingKey] = KDF1(chainingKey, se);

  const [nextChainingKey, tau, key] = KDF3(chainingKey, presharedKey);
  chainingKey = nextChainingKey;
  hash = HASH(hash, tau);
  const encryptedNothing = AEAD(key, 0n, EMPTY, hash);
  hash = HASH(hash, encryptedNothing);
  ephemeral.privateKey.fill(0);

  const bytes = serializeResponse({
    senderIndex: localIndex,
    receiverIndex: consumed.remoteIndex,
    unencryptedEphemeral: ephemeral.publicKey,
    encryptedNothing,
  });
  return { ok: true, bytes, keys: deriveTransportKeys(chainingKey, false) };
}

export function consumeResponse(
  local: StaticIdentity,
  handshake: InitiatorHandshake,
  presharedKey: Uint8Array,
  message: ResponseMessage,
): ({ ok: true } & TransportKeys) | NoiseFailure {
  const remoteEphemeral = message.unencryptedEphemeral;
  let [chainingKey] = KDF1(handshake.chainingKey, remoteEphemeral);
  let hash = HASH(handshake.hash, remoteEphemeral);

  const ee = DH(handshake.ephemeralPrivate, remoteEphemeral);
  if (!ee) return failure('dh-zero');
  [chainingKey] = KDF1(chainingKey, ee);
  const se = DH(local.privateKey, remoteEphemeral);
  if (!se) return failure('dh-zero');
  [chainingKey] = KDF1(chainingKey, se);

  const [nextChainingKey, tau, key] = KDF3(chainingKey, presharedKey);
  chainingKey = nextChainingKey;
  hash = HASH(hash, tau);
  if (message.encryptedNothing.length !== AEAD_TAG_LENGTH || !AEAD_OPEN(key, 0n, message.encryptedNothing, hash))
    return failure('empty-decrypt');
  return { ok: true, ...deriveTransportKeys(chainingKey, true) };
}

/** (T_send, T_recv) = KDF2(C, ε) for the initiator; the responder uses them the other way round. */
export function deriveTransportKeys(chainingKey: Uint8Array, initiator: boolean): TransportKeys {
  const [first, second] = KDF2(chainingKey, EMPTY);
  return initiator ? { sendKey: first, receiveKey: second } : { sendKey: second, receiveKey: first };
}
