/**
 * WireGuard key values as the configuration model holds them: 32 bytes, parsed once from hex (the
 * UAPI's form) or base64 (wg(8)'s and zmesh's files), then trusted.
 *
 * Three types, so a preshared key can never be passed where a public key is expected:
 * - PublicKey: printable (toString gives base64, the form operators recognise).
 * - PrivateKey: clamped when made (as the kernel stores it, so `get` shows it clamped); never
 *   all-zero (an all-zero private key on the wire means "clear it", i.e. null in the model).
 * - PresharedKey: never all-zero (all-zero on the wire means "no preshared key").
 * Secret keys redact themselves in toString/JSON/inspect so a stray log line cannot leak them;
 * their hex is only reachable through an explicit `secretHex()`.
 */
import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { KEY_PATTERN } from '../../netdef/keys.js';
import { KEY_LENGTH } from '../constants.js';
import { isZeroKey } from '../keys.js';
import { invalid, type UapiErrorContext } from './errors.js';

const HEX_LENGTH = KEY_LENGTH * 2;
const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = new RegExp(KEY_PATTERN);

/**
 * Decodes 64 hex characters. Uppercase is accepted because wg(8)'s key_from_hex and
 * wireguard-go's hex decoder both accept it; we always emit lowercase.
 */
export function keyBytesFromHex(text: string, context: UapiErrorContext): Uint8Array {
  if (!HEX.test(text)) {
    // Say what is wrong without echoing the value (it may be a secret).
    const reason =
      text.length !== HEX_LENGTH
        ? `expected a key of ${HEX_LENGTH} hex characters, got ${text.length} characters`
        : 'expected a key of 64 hex characters, found a non-hex character';
    throw invalid(reason, context);
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function keyBytesFromBase64(text: string, context: UapiErrorContext): Uint8Array {
  // KEY_PATTERN pins the canonical encoding of 32 bytes: two spellings of one key are never both accepted.
  if (!BASE64.test(text))
    throw invalid(`expected a key of 44 base64 characters ending in '=', got ${text.length} characters`, context);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function checkLength(bytes: Uint8Array, context: UapiErrorContext): Uint8Array {
  if (bytes.length !== KEY_LENGTH) throw invalid(`expected a key of ${KEY_LENGTH} bytes, got ${bytes.length}`, context);
  return new Uint8Array(bytes);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class PublicKey {
  readonly #bytes: Uint8Array;
  readonly #hex: string;
  /** `hex`: the bytes' hex when the caller has it already (a 10,000-peer set parses 10,000 keys). */
  private constructor(bytes: Uint8Array, hex?: string) {
    this.#bytes = bytes;
    this.#hex = hex ?? Buffer.from(bytes).toString('hex');
  }
  static fromBytes(bytes: Uint8Array, context: UapiErrorContext = { key: 'public_key' }): PublicKey {
    return new PublicKey(checkLength(bytes, context));
  }
  static fromHex(text: string, context: UapiErrorContext = { key: 'public_key' }): PublicKey {
    // keyBytesFromHex has checked it is 64 hex digits, so its lowercase is the canonical hex.
    return new PublicKey(keyBytesFromHex(text, context), text.toLowerCase());
  }
  static fromBase64(text: string, context: UapiErrorContext = { key: 'public_key' }): PublicKey {
    return new PublicKey(keyBytesFromBase64(text, context));
  }
  /** Lowercase hex: the canonical form, used as the peer map's key and on the UAPI wire. */
  get hex(): string {
    return this.#hex;
  }
  base64(): string {
    return Buffer.from(this.#bytes).toString('base64');
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }
  equals(other: PublicKey): boolean {
    return this.#hex === other.#hex;
  }
  toString(): string {
    return this.base64();
  }
  toJSON(): string {
    return this.base64();
  }
  [inspect.custom](): string {
    return `PublicKey(${this.base64()})`;
  }
}

/** Shared behaviour of the two secret key types: redacted everywhere except secretHex/bytes. */
abstract class SecretKeyValue {
  readonly #bytes: Uint8Array;
  protected constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  /** Lowercase hex, for the UAPI `get` answer only. Named so every use is visible in review. */
  secretHex(): string {
    return Buffer.from(this.#bytes).toString('hex');
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }
  protected sameBytes(other: SecretKeyValue): boolean {
    return bytesEqual(this.#bytes, other.#bytes);
  }
  toString(): string {
    return '(secret key)';
  }
  toJSON(): string {
    return '(secret key)';
  }
  [inspect.custom](): string {
    return `${this.constructor.name}(redacted)`;
  }
}

export class PrivateKey extends SecretKeyValue {
  private readonly brand = 'PrivateKey' as const;
  private constructor(bytes: Uint8Array) {
    super(bytes);
  }
  /** null for an all-zero key: the protocol's "clear the private key". Clamps otherwise. */
  static fromBytesOrClear(bytes: Uint8Array, context: UapiErrorContext = { key: 'private_key' }): PrivateKey | null {
    const copy = checkLength(bytes, context);
    if (isZeroKey(copy)) return null;
    // X25519 clamping, as the kernel applies when the key is set (curve25519_clamp_secret).
    copy[0]! &= 248;
    copy[31]! = (copy[31]! & 127) | 64;
    return new PrivateKey(copy);
  }
  static fromHexOrClear(text: string, context: UapiErrorContext = { key: 'private_key' }): PrivateKey | null {
    return PrivateKey.fromBytesOrClear(keyBytesFromHex(text, context), context);
  }
  static fromBase64OrClear(text: string, context: UapiErrorContext = { key: 'private_key' }): PrivateKey | null {
    return PrivateKey.fromBytesOrClear(keyBytesFromBase64(text, context), context);
  }
  equals(other: PrivateKey): boolean {
    return this.brand === other.brand && this.sameBytes(other);
  }
}

export class PresharedKey extends SecretKeyValue {
  private readonly brand = 'PresharedKey' as const;
  private constructor(bytes: Uint8Array) {
    super(bytes);
  }
  /** null for an all-zero key: the protocol's "no preshared key". */
  static fromBytesOrNone(bytes: Uint8Array, context: UapiErrorContext = { key: 'preshared_key' }): PresharedKey | null {
    const copy = checkLength(bytes, context);
    return isZeroKey(copy) ? null : new PresharedKey(copy);
  }
  static fromHexOrNone(text: string, context: UapiErrorContext = { key: 'preshared_key' }): PresharedKey | null {
    return PresharedKey.fromBytesOrNone(keyBytesFromHex(text, context), context);
  }
  static fromBase64OrNone(text: string, context: UapiErrorContext = { key: 'preshared_key' }): PresharedKey | null {
    return PresharedKey.fromBytesOrNone(keyBytesFromBase64(text, context), context);
  }
  equals(other: PresharedKey): boolean {
    return this.brand === other.brand && this.sameBytes(other);
  }
}

export const ZERO_KEY_HEX = '0'.repeat(HEX_LENGTH);
