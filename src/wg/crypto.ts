/**
 * The protocol paper's cryptographic functions (section 5.4), under the
 * paper's names, built only from well-kept libraries: libsodium for X25519,
 * ChaCha20-Poly1305 and XChaCha20-Poly1305, @noble/hashes for BLAKE2s and
 * HMAC. Nothing here is a hand-written primitive; this module only fixes the
 * WireGuard parameters (output sizes, nonce layout, KDF chaining).
 *
 * libsodium is the native one the data plane links, reached through the addon
 * (native/sodium_addon.cc): libsodium-wrappers' WebAssembly build of the same
 * library cost every wgd ~8 MB of RSS. Await `ready()` once before any other
 * call (it loads the addon; a call before that throws CryptoNotReadyError).
 */
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { native, type SodiumBinding } from '../native/binding.js';
import { clampPrivateKey } from '../netdef/keys.js';
import { AEAD_TAG_LENGTH, COOKIE_NONCE_LENGTH, HASH_LENGTH, KEY_LENGTH, MAC_LENGTH } from './constants.js';

export class CryptoNotReadyError extends Error {
  readonly code = 'CRYPTO_NOT_READY';
  constructor() {
    super('libsodium is not initialised: await ready() from src/wg/crypto.ts first');
    this.name = 'CryptoNotReadyError';
  }
}

let sodium: SodiumBinding | null = null;

/** Resolves once libsodium is usable; idempotent and cheap after the first call. */
export async function ready(): Promise<void> {
  sodium ??= native().sodium;
}

function sodiumReady(): SodiumBinding {
  if (!sodium) throw new CryptoNotReadyError();
  return sodium;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** HASH(input): unkeyed BLAKE2s-256 over the concatenation of the inputs. */
export function HASH(...inputs: Uint8Array[]): Uint8Array {
  const state = blake2s.create({ dkLen: HASH_LENGTH });
  for (const input of inputs) state.update(input);
  return state.digest();
}

/** MAC(key, input): keyed BLAKE2s with a 128-bit output (mac1, mac2, cookies). */
export function MAC(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: MAC_LENGTH });
}

/** HMAC(key, input): HMAC-BLAKE2s-256 (RFC 2104 over a 64-byte block). */
export function HMAC(key: Uint8Array, input: Uint8Array): Uint8Array {
  return hmac(blake2s, key, input);
}

/**
 * KDFn(key, input): the HKDF of the paper with n outputs of 32 bytes,
 * T0 = HMAC(key, input), T1 = HMAC(T0, 0x1), Ti = HMAC(T0, Ti-1 ‖ i).
 */
function kdf(count: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const secret = HMAC(key, input);
  const outputs: Uint8Array[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= count; i++) {
    previous = HMAC(secret, concat([previous, Uint8Array.of(i)]));
    outputs.push(previous);
  }
  secret.fill(0);
  return outputs;
}

export function KDF1(key: Uint8Array, input: Uint8Array): [Uint8Array] {
  const [t1] = kdf(1, key, input) as [Uint8Array];
  return [t1];
}

export function KDF2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const [t1, t2] = kdf(2, key, input) as [Uint8Array, Uint8Array];
  return [t1, t2];
}

export function KDF3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const [t1, t2, t3] = kdf(3, key, input) as [Uint8Array, Uint8Array, Uint8Array];
  return [t1, t2, t3];
}

/** The 96-bit ChaCha20-Poly1305 nonce of WireGuard: 32 zero bits then the counter, little-endian 64 bits. */
export function aeadNonce(counter: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, counter, true);
  return nonce;
}

/** AEAD(key, counter, plaintext, authtext): ChaCha20-Poly1305 (RFC 8439), returns ciphertext ‖ 16-byte tag. */
export function AEAD(key: Uint8Array, counter: bigint, plaintext: Uint8Array, authtext: Uint8Array): Uint8Array {
  return sodiumReady().aeadSeal(key, aeadNonce(counter), plaintext, authtext);
}

/** The inverse of AEAD; null when the tag does not verify (never throws on bad input). */
export function AEAD_OPEN(
  key: Uint8Array,
  counter: bigint,
  ciphertext: Uint8Array,
  authtext: Uint8Array,
): Uint8Array | null {
  const s = sodiumReady();
  if (ciphertext.length < AEAD_TAG_LENGTH || key.length !== KEY_LENGTH) return null;
  return s.aeadOpen(key, aeadNonce(counter), ciphertext, authtext);
}

/** XAEAD(key, nonce, plaintext, authtext): XChaCha20-Poly1305 with a 24-byte nonce (cookie replies). */
export function XAEAD(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, authtext: Uint8Array): Uint8Array {
  return sodiumReady().xaeadSeal(key, nonce, plaintext, authtext);
}

export function XAEAD_OPEN(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  authtext: Uint8Array,
): Uint8Array | null {
  const s = sodiumReady();
  if (ciphertext.length < AEAD_TAG_LENGTH || nonce.length !== COOKIE_NONCE_LENGTH || key.length !== KEY_LENGTH)
    return null;
  return s.xaeadOpen(key, nonce, ciphertext, authtext);
}

/**
 * DH(privateKey, publicKey): X25519. Returns null for an all-zero result
 * (a low-order public key), which WireGuard must reject: such a peer would
 * make the shared secret predictable.
 */
export function DH(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  const s = sodiumReady();
  if (privateKey.length !== KEY_LENGTH || publicKey.length !== KEY_LENGTH) return null;
  // libsodium itself refuses an all-zero output (null).
  return s.scalarmult(privateKey, publicKey);
}

/** The X25519 public key of a private key (the library clamps the scalar). */
export function DH_PUBLIC(privateKey: Uint8Array): Uint8Array {
  return sodiumReady().scalarmultBase(privateKey);
}

/** Random bytes from libsodium's CSPRNG. */
export function randomBytes(length: number): Uint8Array {
  return sodiumReady().randomBytes(length);
}

/**
 * DH_GENERATE(): a fresh X25519 key pair. `random` is injectable so tests can
 * be deterministic; the private key is clamped as the spec stores it.
 */
export function DH_GENERATE(random: (length: number) => Uint8Array = randomBytes): {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
} {
  const privateKey = random(KEY_LENGTH).slice(0, KEY_LENGTH);
  clampPrivateKey(privateKey);
  return { privateKey, publicKey: DH_PUBLIC(privateKey) };
}

/** Constant-time equality of two byte strings of the same length. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return sodiumReady().equal(a, b);
}

/** Overwrite a secret in place; JS cannot guarantee no copies remain, but the live buffer is cleared. */
export function wipe(bytes: Uint8Array | null | undefined): void {
  if (bytes) bytes.fill(0);
}

export { concat };
