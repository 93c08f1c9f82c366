/**
 * mac1, mac2 and cookies (protocol paper section 5.4.4 and 5.4.7), the
 * denial-of-service defence of the handshake.
 *
 * - `CookieChecker` is the device's side as a receiver: it verifies mac1 of
 *   every handshake message (keyed with HASH("mac1----" ‖ our public key)),
 *   verifies mac2 when under load, and makes cookie replies. The cookie for a
 *   source is MAC(secret, source address bytes ‖ source port big-endian) with a
 *   random secret replaced every COOKIE_REFRESH_TIME (120 s); the reply
 *   encrypts it with XChaCha20-Poly1305 keyed with HASH("cookie--" ‖ our public
 *   key), a random 24-byte nonce and the triggering message's mac1 as
 *   associated data.
 * - `CookieGenerator` is the per-peer side as a sender: it computes mac1 for
 *   the peer, remembers the last mac1 sent (the AD of a reply to it), stores
 *   a cookie from a valid reply and uses it for mac2 while it is younger than
 *   COOKIE_REFRESH_TIME.
 *
 * Times are milliseconds of the core's monotonic clock.
 */
import { isIPv4, isIPv6 } from 'node:net';
import {
  COOKIE_LENGTH,
  COOKIE_NONCE_LENGTH,
  COOKIE_REFRESH_TIME,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_LENGTH,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
} from './constants.js';
import { equalBytes, HASH, MAC, randomBytes, XAEAD, XAEAD_OPEN } from './crypto.js';
import type { Endpoint } from './endpoint.js';
import { MAC1_OFFSET, MAC2_OFFSET, messageType, serializeCookieReply, type CookieReplyMessage } from './messages.js';

const TEXT = new TextEncoder();

export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return HASH(TEXT.encode(LABEL_MAC1), publicKey);
}

export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return HASH(TEXT.encode(LABEL_COOKIE), publicKey);
}

/** The bytes of a numeric IPv4 (4) or IPv6 (16) address, or null if it is not one. A zone (%eth0) is ignored. */
export function addressBytes(address: string): Uint8Array | null {
  if (typeof address !== 'string') return null;
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  const bare = address.split('%')[0] ?? '';
  if (!isIPv6(bare)) return null;
  let text = bare;
  const lastColon = text.lastIndexOf(':');
  const dotted = text.slice(lastColon + 1);
  if (dotted.includes('.')) {
    // An embedded IPv4 address is the last two groups written in decimal.
    const v4 = dotted.split('.').map(Number);
    const high = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16);
    const low = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16);
    text = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const halves = text.split('::');
  let groups: number[];
  if (halves.length === 1) {
    groups = parse(halves[0] ?? '');
  } else {
    const left = parse(halves[0] ?? '');
    const right = parse(halves[1] ?? '');
    const missing = 8 - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Address bytes ‖ port (big-endian), the input of a source's cookie; null for a malformed endpoint. */
export function endpointBytes(endpoint: Endpoint): Uint8Array | null {
  const address = addressBytes(endpoint?.address);
  if (!address || !Number.isInteger(endpoint.port) || endpoint.port < 0 || endpoint.port > 0xffff) return null;
  const out = new Uint8Array(address.length + 2);
  out.set(address);
  out[address.length] = endpoint.port >> 8;
  out[address.length + 1] = endpoint.port & 0xff;
  return out;
}

type MacCarrier = typeof MESSAGE_INITIATION | typeof MESSAGE_RESPONSE;

function macCarrierType(bytes: Uint8Array): MacCarrier | null {
  const type = messageType(bytes);
  return type === MESSAGE_INITIATION || type === MESSAGE_RESPONSE ? type : null;
}

/** The receiving side: mac1/mac2 verification and cookie replies for our own public key. */
export class CookieChecker {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  #secret: Uint8Array = new Uint8Array(32);
  #secretSetAt: number | null = null;

  constructor(
    ourPublicKey: Uint8Array,
    private readonly random: (length: number) => Uint8Array = randomBytes,
  ) {
    this.#mac1Key = mac1Key(ourPublicKey);
    this.#cookieKey = cookieKey(ourPublicKey);
  }

  /** mac1 of an initiation or response addressed to us; false for any other input. */
  checkMac1(bytes: Uint8Array): boolean {
    const type = macCarrierType(bytes);
    if (type === null || bytes.length !== MAC2_OFFSET[type] + MAC_LENGTH) return false;
    const offset = MAC1_OFFSET[type];
    return equalBytes(MAC(this.#mac1Key, bytes.subarray(0, offset)), bytes.subarray(offset, offset + MAC_LENGTH));
  }

  /** mac2 made with the cookie we would give `source` now; false when our secret is stale (the cookie would be too). */
  checkMac2(bytes: Uint8Array, source: Endpoint, now: number): boolean {
    const type = macCarrierType(bytes);
    if (type === null || bytes.length !== MAC2_OFFSET[type] + MAC_LENGTH) return false;
    if (this.#secretSetAt === null || now - this.#secretSetAt >= COOKIE_REFRESH_TIME) return false;
    const cookie = this.#cookieFor(source);
    if (!cookie) return false;
    const offset = MAC2_OFFSET[type];
    return equalBytes(MAC(cookie, bytes.subarray(0, offset)), bytes.subarray(offset, offset + MAC_LENGTH));
  }

  /**
   * A cookie reply (64 bytes) to `bytes` (an initiation or response whose mac1
   * was already verified) from `source`, addressed to the message's sender
   * index. Null when the source endpoint is not a numeric address.
   */
  createReply(bytes: Uint8Array, senderIndex: number, source: Endpoint, now: number): Uint8Array | null {
    const type = macCarrierType(bytes);
    if (type === null) return null;
    if (this.#secretSetAt === null || now - this.#secretSetAt >= COOKIE_REFRESH_TIME) {
      this.#secret.fill(0);
      this.#secret = this.random(32).slice(0, 32);
      this.#secretSetAt = now;
    }
    const cookie = this.#cookieFor(source);
    if (!cookie) return null;
    const mac1 = bytes.subarray(MAC1_OFFSET[type], MAC1_OFFSET[type] + MAC_LENGTH);
    const nonce = this.random(COOKIE_NONCE_LENGTH).slice(0, COOKIE_NONCE_LENGTH);
    const encryptedCookie = XAEAD(this.#cookieKey, nonce, cookie, mac1);
    return serializeCookieReply({ receiverIndex: senderIndex, nonce, encryptedCookie });
  }

  #cookieFor(source: Endpoint): Uint8Array | null {
    const input = endpointBytes(source);
    return input ? MAC(this.#secret, input) : null;
  }
}

/** The sending side for one peer: mac1/mac2 on our handshake messages to it, and the cookies it gives us. */
export class CookieGenerator {
  readonly #peerPublicKey: Uint8Array;
  // Derived on first use: a device configured with 10,000 peers that never handshake would
  // otherwise spend 20,000 BLAKE2s hashes of its setconf on keys it never needs.
  #mac1KeyCache: Uint8Array | null = null;
  #cookieKeyCache: Uint8Array | null = null;
  #cookie: Uint8Array | null = null;
  #cookieSetAt = 0;
  #lastMac1: Uint8Array | null = null;

  constructor(peerPublicKey: Uint8Array) {
    this.#peerPublicKey = Uint8Array.from(peerPublicKey);
  }

  get #mac1Key(): Uint8Array {
    return (this.#mac1KeyCache ??= mac1Key(this.#peerPublicKey));
  }

  get #cookieKey(): Uint8Array {
    return (this.#cookieKeyCache ??= cookieKey(this.#peerPublicKey));
  }

  /** Fills mac1 and mac2 of an initiation or response in place; mac2 stays zero without a fresh cookie. */
  addMacs(bytes: Uint8Array, now: number): void {
    const type = macCarrierType(bytes);
    if (type === null) throw new RangeError('only initiations and responses carry macs');
    const mac1Offset = MAC1_OFFSET[type];
    const mac2Offset = MAC2_OFFSET[type];
    const mac1 = MAC(this.#mac1Key, bytes.subarray(0, mac1Offset));
    bytes.set(mac1, mac1Offset);
    this.#lastMac1 = mac1;
    if (this.#cookie && now - this.#cookieSetAt < COOKIE_REFRESH_TIME) {
      bytes.set(MAC(this.#cookie, bytes.subarray(0, mac2Offset)), mac2Offset);
    } else {
      bytes.fill(0, mac2Offset, mac2Offset + MAC_LENGTH);
    }
  }

  /**
   * Takes the cookie of a reply to the last message we sent this peer. False
   * (and nothing stored) when we sent nothing since the last reply or the
   * reply does not decrypt with that message's mac1.
   */
  consumeReply(reply: CookieReplyMessage, now: number): boolean {
    if (!this.#lastMac1) return false;
    const cookie = XAEAD_OPEN(this.#cookieKey, reply.nonce, reply.encryptedCookie, this.#lastMac1);
    if (!cookie || cookie.length !== COOKIE_LENGTH) return false;
    this.#cookie = cookie;
    this.#cookieSetAt = now;
    this.#lastMac1 = null; // one reply per message sent, as the kernel does
    return true;
  }

  hasFreshCookie(now: number): boolean {
    return this.#cookie !== null && now - this.#cookieSetAt < COOKIE_REFRESH_TIME;
  }
}
