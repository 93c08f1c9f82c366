/**
 * X25519 keys of zmesh, the one key model of every layer: WireGuard key pairs of NRs, node identity
 * key pairs, the values the UAPI and the kernel's netlink carry, and the sealed boxes that carry an
 * NR's WireGuard private key to its node. A key is 32 bytes, parsed once from base64 (wg(8)'s and
 * zmesh's files) or hex (the UAPI's form), then trusted. Three types, so a preshared key can never
 * be passed where a public key is expected:
 * - PublicKey: printable (toString gives base64, the form operators recognise).
 * - PrivateKey: clamped when made (as the kernel stores it, so a read-back shows it clamped); never
 *   all-zero (an all-zero private key on the UAPI wire means "clear it": the `OrClear` parsers).
 * - PresharedKey: never all-zero (all-zero on the wire means "no preshared key": `OrNone`).
 * Secret keys print as a placeholder however they are printed, so a stray log line or error cannot
 * leak one; their bytes leave only through `revealBase64()`, `secretHex()` and `bytes()`. Errors
 * (KeyFormatError) name what was malformed and why, never the input.
 *
 * libsodium must be initialised once: `await ready()` before deriving, generating or sealing.
 */

import { timingSafeEqual } from 'node:crypto';
import type Sodium from 'libsodium-wrappers';
import { KeyFormatError, UnsealError } from './errors.js';

export const KEY_BYTES = 32;
/** crypto_box_seal output for a 32-byte message: ephemeral public key + MAC + message. */
export const SEALED_KEY_BYTES = 80;
/**
 * Canonical standard base64 of 32 bytes, as wg(8) prints keys: 43 significant characters, the
 * last with its two low bits zero, one '=' — so two spellings of one key cannot both be accepted.
 * The one pattern of a base64 key: the definition schema, the UAPI and the wg tools' parsers use it.
 */
export const KEY_PATTERN = '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$';
/** Canonical standard base64 of 64 bytes (an Ed25519 signature). */
export const SIGNATURE_PATTERN = '^[A-Za-z0-9+/]{85}[AQgw]==$';
/** Canonical standard base64 of 80 bytes. */
export const SEALED_KEY_PATTERN = '^[A-Za-z0-9+/]{106}[AEIMQUYcgkosw480]=$';

const keyPattern = new RegExp(KEY_PATTERN);
const sealedPattern = new RegExp(SEALED_KEY_PATTERN);

/**
 * libsodium (WebAssembly, ~8 MB of RSS once compiled) is loaded by the first `ready()`, not on
 * import: the key types alone (parsing, printing, comparing) need none of it, and wgd, which only
 * parses keys off the UAPI, never loads it.
 */
let sodium: typeof Sodium | null = null;

export async function ready(): Promise<void> {
  if (sodium) return;
  const loaded = (await import('libsodium-wrappers')).default;
  await loaded.ready;
  sodium = loaded;
}

function lib(): typeof Sodium {
  if (!sodium) throw new Error('netdef keys: call `await ready()` first');
  return sodium;
}

/** Canonical base64 (KEY_PATTERN and SEALED_KEY_PATTERN pin the spelling before decoding). */
function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function isKey(text: string): boolean {
  return keyPattern.test(text);
}

export function isSealedKey(text: string): boolean {
  return sealedPattern.test(text);
}

/** A secret that prints as `[<Name> redacted]` however it is printed (String, JSON, console). */
export abstract class Redacted {
  toString(): string {
    return `[${this.constructor.name} redacted]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

const HEX_LENGTH = KEY_BYTES * 2;
const hexPattern = /^[0-9a-fA-F]{64}$/;
/** What the UAPI writes for "no key" (a cleared private key, no preshared key). */
export const ZERO_KEY_HEX = '0'.repeat(HEX_LENGTH);

function malformed(what: string, reason: string): KeyFormatError {
  return new KeyFormatError('', `malformed ${what}: ${reason}`, reason);
}

function checkedBytes(bytes: Uint8Array, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    const got = bytes instanceof Uint8Array ? bytes.length : typeof bytes;
    throw malformed(what, `expected a key of ${KEY_BYTES} bytes, got ${got}`);
  }
  return Uint8Array.from(bytes);
}

/**
 * Decodes 64 hex characters. Uppercase is accepted because wg(8)'s key_from_hex and
 * wireguard-go's hex decoder both accept it; we always emit lowercase.
 */
function bytesFromHex(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !hexPattern.test(text)) {
    // Say what is wrong without echoing the value (it may be a secret).
    const reason =
      typeof text === 'string' && text.length === HEX_LENGTH
        ? `expected a key of ${HEX_LENGTH} hex characters, found a non-hex character`
        : `expected a key of ${HEX_LENGTH} hex characters, got ${typeof text === 'string' ? text.length : 0} characters`;
    throw malformed(what, reason);
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** KEY_PATTERN pins the canonical encoding of 32 bytes: two spellings of one key are never both accepted. */
function bytesFromBase64(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !isKey(text)) {
    throw malformed(what, "expected standard base64 of 32 bytes (44 characters ending in '=')");
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function isZeroKey(key: Uint8Array): boolean {
  let acc = 0;
  for (const byte of key) acc |= byte;
  return acc === 0;
}

/** X25519 clamping, in place, as wg(8) and the kernel apply it (curve25519_clamp_secret). */
export function clampPrivateKey(bytes: Uint8Array): void {
  bytes[0]! &= 248;
  bytes[31]! = (bytes[31]! & 127) | 64;
}

export class PublicKey {
  readonly #bytes: Uint8Array;
  readonly #hex: string;
  /** `hex`: the bytes' hex when the caller has it already (a 10,000-peer set parses 10,000 keys). */
  private constructor(bytes: Uint8Array, hex?: string) {
    this.#bytes = bytes;
    this.#hex = hex ?? Buffer.from(bytes).toString('hex');
  }
  static fromBytes(bytes: Uint8Array, what = 'public key'): PublicKey {
    return new PublicKey(checkedBytes(bytes, what));
  }
  static fromHex(text: string, what = 'public key'): PublicKey {
    // bytesFromHex has checked it is 64 hex digits, so its lowercase is the canonical hex.
    return new PublicKey(bytesFromHex(text, what), text.toLowerCase());
  }
  static fromBase64(text: string, what = 'public key'): PublicKey {
    return new PublicKey(bytesFromBase64(text, what));
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
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PublicKey(${this.base64()})`;
  }
}

/** What the two secret key types share: redacted everywhere except the named ways out. */
abstract class SecretKeyValue extends Redacted {
  readonly #bytes: Uint8Array;

  protected constructor(bytes: Uint8Array) {
    super();
    this.#bytes = bytes;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The key as wg(8) writes it. Only for writing a key file; never log the result. */
  revealBase64(): string {
    return Buffer.from(this.#bytes).toString('base64');
  }

  /** Lowercase hex, for the UAPI only. Named so every use is visible in review. */
  secretHex(): string {
    return Buffer.from(this.#bytes).toString('hex');
  }

  protected sameBytes(other: SecretKeyValue): boolean {
    return timingSafeEqual(this.#bytes, other.#bytes);
  }
}

/** A secret key where one is required: the all-zero "no key" of the UAPI is refused. */
function present<Key>(key: Key | null, what: string): Key {
  if (key === null) throw malformed(what, 'an all-zero key is no key');
  return key;
}

/** A 32-byte X25519 private key, clamped, never all-zero. Prints as a placeholder. */
export class PrivateKey extends SecretKeyValue {
  private readonly brand = 'PrivateKey' as const;

  private constructor(bytes: Uint8Array) {
    super(bytes);
  }

  /** null for an all-zero key: the UAPI's "clear the private key". Clamps otherwise. */
  static fromBytesOrClear(bytes: Uint8Array, what = 'private key'): PrivateKey | null {
    const copy = checkedBytes(bytes, what);
    if (isZeroKey(copy)) return null;
    clampPrivateKey(copy);
    return new PrivateKey(copy);
  }

  static fromHexOrClear(text: string, what = 'private key'): PrivateKey | null {
    return PrivateKey.fromBytesOrClear(bytesFromHex(text, what), what);
  }

  static fromBytes(bytes: Uint8Array, what = 'private key'): PrivateKey {
    return present(PrivateKey.fromBytesOrClear(bytes, what), what);
  }

  /** Parses a base64 private key (surrounding white space, as a key file has, is ignored). */
  static fromBase64(text: string, what = 'private key'): PrivateKey {
    return PrivateKey.fromBytes(bytesFromBase64(typeof text === 'string' ? text.trim() : text, what), what);
  }

  /** Derived once (a scalar multiplication in WASM; planning an NR checks it on every apply). */
  #publicKey: string | null = null;

  /** The matching X25519 public key, base64. */
  publicKey(): string {
    if (this.#publicKey !== null) return this.#publicKey;
    const secret = this.bytes();
    try {
      this.#publicKey = toBase64(lib().crypto_scalarmult_base(secret));
      return this.#publicKey;
    } finally {
      secret.fill(0);
    }
  }

  equals(other: PrivateKey): boolean {
    return this.brand === other.brand && this.sameBytes(other);
  }
}

/** A 32-byte preshared key, never all-zero. Prints as a placeholder. */
export class PresharedKey extends SecretKeyValue {
  private readonly brand = 'PresharedKey' as const;

  private constructor(bytes: Uint8Array) {
    super(bytes);
  }

  /** null for an all-zero key: the protocol's "no preshared key". */
  static fromBytesOrNone(bytes: Uint8Array, what = 'preshared key'): PresharedKey | null {
    const copy = checkedBytes(bytes, what);
    return isZeroKey(copy) ? null : new PresharedKey(copy);
  }

  static fromHexOrNone(text: string, what = 'preshared key'): PresharedKey | null {
    return PresharedKey.fromBytesOrNone(bytesFromHex(text, what), what);
  }

  static fromBytes(bytes: Uint8Array, what = 'preshared key'): PresharedKey {
    return present(PresharedKey.fromBytesOrNone(bytes, what), what);
  }

  equals(other: PresharedKey): boolean {
    return this.brand === other.brand && this.sameBytes(other);
  }
}

export interface KeyPair {
  readonly publicKey: string;
  readonly privateKey: PrivateKey;
}

/** A fresh X25519 key pair, private key clamped exactly as `wg genkey` does. */
export function generateKeyPair(): KeyPair {
  const bytes = lib().randombytes_buf(KEY_BYTES);
  const privateKey = PrivateKey.fromBytes(bytes); // clamps, as `wg genkey` does
  bytes.fill(0);
  return { publicKey: privateKey.publicKey(), privateKey };
}

/** Seals a private key to an identity public key (libsodium sealed box), base64. */
export function sealKey(privateKey: PrivateKey, identityPublicKey: string): string {
  if (!isKey(identityPublicKey))
    throw new KeyFormatError('', 'malformed identity key: expected standard base64 of 32 bytes');
  const secret = privateKey.bytes();
  try {
    return toBase64(lib().crypto_box_seal(secret, fromBase64(identityPublicKey)));
  } finally {
    secret.fill(0);
  }
}

/** Opens a sealed private key with the identity key pair; UnsealError when it is not the recipient. */
export function unsealKey(sealed: string, identity: PrivateKey): PrivateKey {
  if (!isSealedKey(sealed)) throw new UnsealError('', 'sealed key is malformed');
  const identityBytes = identity.bytes();
  try {
    const opened = lib().crypto_box_seal_open(fromBase64(sealed), fromBase64(identity.publicKey()), identityBytes);
    const key = PrivateKey.fromBytes(opened, 'sealed key');
    opened.fill(0);
    return key;
  } catch (error) {
    if (error instanceof KeyFormatError) throw error;
    // libsodium's own refusal says only "incorrect key pair"; anything else (a library not ready,
    // a bad argument) is kept in the message so the failure can be told apart. Neither holds a key.
    const reason = error instanceof Error ? error.message : String(error);
    const detail = /incorrect key pair/i.test(reason) ? '' : ` (${reason})`;
    throw new UnsealError('', `the identity key does not open this sealed key${detail}`);
  } finally {
    identityBytes.fill(0);
  }
}

/** Where add-node and reprovision get key pairs and seals from (libsodium by default). */
export interface KeySource {
  generateKeyPair(): KeyPair;
  seal(privateKey: PrivateKey, identityPublicKey: string): string;
}

export const sodiumKeySource: KeySource = { generateKeyPair, seal: sealKey };
