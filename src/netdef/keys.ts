/**
 * X25519 keys of zmesh: WireGuard key pairs of NRs and node identity key pairs, and the sealed
 * boxes that carry an NR's WireGuard private key to its node. Private keys live in `SecretKey`,
 * which refuses to print itself, so a stray log line or error cannot leak one.
 *
 * libsodium must be initialised once: `await ready()` before any other call.
 */

import sodium from 'libsodium-wrappers';
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

let initialised = false;

export async function ready(): Promise<void> {
  await sodium.ready;
  initialised = true;
}

function lib(): typeof sodium {
  if (!initialised) throw new Error('netdef keys: call `await ready()` first');
  return sodium;
}

function toBase64(bytes: Uint8Array): string {
  return lib().to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

function fromBase64(text: string): Uint8Array {
  return lib().from_base64(text, sodium.base64_variants.ORIGINAL);
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

/** A 32-byte X25519 private key. Prints as a placeholder; `revealBase64()` is the one way out. */
export class SecretKey extends Redacted {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    super();
    this.#bytes = Uint8Array.from(bytes);
  }

  static fromBytes(bytes: Uint8Array): SecretKey {
    if (bytes.length !== KEY_BYTES) throw new KeyFormatError('', 'private key must be 32 bytes');
    return new SecretKey(bytes);
  }

  /** Parses a base64 private key; the error never repeats the input. */
  static fromBase64(text: string, what = 'private key'): SecretKey {
    const trimmed = text.trim();
    if (!isKey(trimmed)) {
      throw new KeyFormatError('', `malformed ${what}: expected standard base64 of 32 bytes`);
    }
    return new SecretKey(fromBase64(trimmed));
  }

  /** The matching X25519 public key, base64. */
  publicKey(): string {
    return toBase64(lib().crypto_scalarmult_base(this.#bytes));
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The key as wg(8) writes it. Only for writing a key file; never log the result. */
  revealBase64(): string {
    return toBase64(this.#bytes);
  }
}

export interface KeyPair {
  readonly publicKey: string;
  readonly privateKey: SecretKey;
}

/** A fresh X25519 key pair, private key clamped exactly as `wg genkey` does. */
export function generateKeyPair(): KeyPair {
  const bytes = lib().randombytes_buf(KEY_BYTES);
  bytes[0] = (bytes[0] ?? 0) & 248;
  bytes[31] = ((bytes[31] ?? 0) & 127) | 64;
  const privateKey = SecretKey.fromBytes(bytes);
  bytes.fill(0);
  return { publicKey: privateKey.publicKey(), privateKey };
}

/** Seals a private key to an identity public key (libsodium sealed box), base64. */
export function sealKey(privateKey: SecretKey, identityPublicKey: string): string {
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
export function unsealKey(sealed: string, identity: SecretKey): SecretKey {
  if (!isSealedKey(sealed)) throw new UnsealError('', 'sealed key is malformed');
  const identityBytes = identity.bytes();
  try {
    const opened = lib().crypto_box_seal_open(fromBase64(sealed), fromBase64(identity.publicKey()), identityBytes);
    const key = SecretKey.fromBytes(opened);
    opened.fill(0);
    return key;
  } catch (error) {
    if (error instanceof KeyFormatError) throw error;
    throw new UnsealError('', 'the identity key does not open this sealed key');
  } finally {
    identityBytes.fill(0);
  }
}

/** Where add-node and reprovision get key pairs and seals from (libsodium by default). */
export interface KeySource {
  generateKeyPair(): KeyPair;
  seal(privateKey: SecretKey, identityPublicKey: string): string;
}

export const sodiumKeySource: KeySource = { generateKeyPair, seal: sealKey };
