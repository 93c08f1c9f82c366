/**
 * Admin signatures over network definitions (DESIGN.md "Trust"). An admin key is an Ed25519 key
 * pair (libsodium crypto_sign); the tool signs every revision it writes, nodes accept only a
 * revision signed by a key they trust.
 *
 * What is signed: the bytes `zmesh-definition-v1\n` followed by the canonical encoding
 * (canonical.ts: keys sorted, no whitespace) of the definition without its `signature` field and
 * with `resources` sorted by node id — the NRs are a set keyed by node, and the store keeps them
 * in its own order. Everything else, the trust log included, is covered. The signature names
 * its key (`signature.key`), so a node tells "untrusted signer" from "bad signature".
 *
 * `await ready()` (keys.ts) before any call.
 */

import sodium from 'libsodium-wrappers';
import { canonicalJson } from './canonical.js';
import { KeyFormatError } from './errors.js';
import { Redacted, isKey } from './keys.js';
import type { SignatureDocument } from './schema.js';

const DOMAIN = 'zmesh-definition-v1\n';
/** The environment variable naming the admin key file the tool signs with. */
export const ADMIN_KEY_ENV = 'ZMESH_ADMIN_KEY';
const SECRET_BYTES = 64;

function b64(bytes: Uint8Array): string {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

function unb64(text: string): Uint8Array {
  return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
}

/** An admin's Ed25519 secret key (64 bytes: seed + public key). Prints as a placeholder. */
export class AdminKey extends Redacted {
  readonly #secret: Uint8Array;

  private constructor(secret: Uint8Array) {
    super();
    this.#secret = Uint8Array.from(secret);
  }

  static generate(): AdminKey {
    const pair = sodium.crypto_sign_keypair();
    const key = new AdminKey(pair.privateKey);
    pair.privateKey.fill(0);
    return key;
  }

  /** Parses the key file's text (base64 of the 64-byte secret key); the error never repeats it. */
  static fromBase64(text: string): AdminKey {
    let bytes: Uint8Array;
    try {
      bytes = unb64(text.trim());
    } catch {
      throw new KeyFormatError('', 'malformed admin key: expected standard base64 of 64 bytes');
    }
    if (bytes.length !== SECRET_BYTES)
      throw new KeyFormatError('', 'malformed admin key: expected standard base64 of 64 bytes');
    return new AdminKey(bytes);
  }

  /** The Ed25519 public key, base64 (what nodes trust). */
  publicKey(): string {
    return b64(this.#secret.subarray(32)); // libsodium's secret key is seed || public key
  }

  sign(message: Uint8Array): Uint8Array {
    return sodium.crypto_sign_detached(message, this.#secret);
  }

  /** Only for writing the key file; never log the result. */
  revealBase64(): string {
    return b64(this.#secret);
  }
}

/** What signing needs of a definition (a validated one or a document). */
export interface Signable {
  readonly signature?: SignatureDocument | undefined;
  readonly resources: readonly { readonly node: string }[];
}

/** `bytes` signed by `key`, as a signature naming its key. */
export function signBytes(bytes: Uint8Array, key: AdminKey): SignatureDocument {
  return { key: key.publicKey(), value: b64(key.sign(bytes)) };
}

/** Whether `signature` is its key's valid signature of `bytes` (a malformed one is not). */
export function signatureMatches(bytes: Uint8Array, signature: SignatureDocument): boolean {
  try {
    return sodium.crypto_sign_verify_detached(unb64(signature.value), bytes, unb64(signature.key));
  } catch {
    return false;
  }
}

/** The exact bytes a signature covers (see the top comment). */
export function signedBytes(def: Signable): Uint8Array {
  const { signature: _ignored, ...rest } = def;
  const resources = [...rest.resources].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return new TextEncoder().encode(DOMAIN + canonicalJson({ ...rest, resources }));
}

/** `def` signed by `key`: any previous signature is replaced. */
export function signDefinition<T extends Signable>(def: T, key: AdminKey): T {
  const { signature: _old, ...rest } = def;
  return { ...rest, signature: signBytes(signedBytes(rest as Signable), key) } as T;
}

/** `def` without a signature (what the tool writes when it has no admin key). */
export function unsignedDefinition<T extends Signable>(def: T): T {
  const { signature: _old, ...rest } = def;
  return rest as T;
}

export type SignatureCheck =
  | { readonly ok: true; readonly signer: string }
  | { readonly ok: false; readonly reason: string };

/** A short, public name of an admin key for messages: its first 8 base64 characters. */
export function keyLabel(publicKey: string): string {
  return `${publicKey.slice(0, 8)}…`;
}

/**
 * Checks that `def` carries a valid signature by one of `trusted` (Ed25519 public keys, base64).
 * The reason says which rule failed: no trusted key at all, unsigned, untrusted signer, bad signature.
 */
export function verifyDefinition(def: Signable, trusted: readonly string[]): SignatureCheck {
  if (trusted.length === 0) {
    return {
      ok: false,
      reason: 'this node trusts no admin key, so it accepts no definition (zmesh node trust add KEY)',
    };
  }
  const signature = def.signature;
  if (signature === undefined)
    return { ok: false, reason: 'the definition is not signed (sign it with zmesh --admin-key FILE)' };
  if (!trusted.includes(signature.key)) {
    return { ok: false, reason: `signed by admin key ${keyLabel(signature.key)}, which this node does not trust` };
  }
  if (!signatureMatches(signedBytes(def), signature))
    return {
      ok: false,
      reason: `the signature by admin key ${keyLabel(signature.key)} does not match the definition (altered after signing?)`,
    };
  return { ok: true, signer: signature.key };
}

/** Checks an admin public key given as text (an option or a trust file line). */
export function assertAdminPublicKey(text: string, what = 'admin key'): string {
  const trimmed = text.trim();
  if (!isKey(trimmed))
    throw new KeyFormatError(
      '',
      `malformed ${what}: expected standard base64 of 32 bytes (zmesh admin init prints it)`,
    );
  return trimmed;
}
