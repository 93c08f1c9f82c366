/**
 * WireGuard keys as a type: a `WgKey` is exactly 32 bytes, parsed once at the
 * edge (base64 as wg(8) prints it, 64 hex chars as the UAPI speaks it, or raw
 * bytes) and trusted inside. Private keys are clamped when stored, as wg(8)
 * and the kernel do. Errors name the field and the reason, never the key.
 */
import { KEY_PATTERN } from '../netdef/keys.js';
import { KEY_LENGTH } from './constants.js';
import { clampInPlace, DH_PUBLIC, randomBytes } from './crypto.js';

declare const wgKeyBrand: unique symbol;
/** 32 bytes that were checked to be a key. */
export type WgKey = Uint8Array & { readonly [wgKeyBrand]: true };

export type KeyErrorReason = 'length' | 'encoding' | 'zero';

export class KeyError extends Error {
  readonly code = 'INVALID_KEY';
  constructor(
    readonly field: string,
    readonly reason: KeyErrorReason,
    detail: string,
  ) {
    // The message names the field and the reason only: the input may be a secret.
    super(`${field}: invalid key (${detail})`);
    this.name = 'KeyError';
  }
}

const BASE64_KEY = new RegExp(KEY_PATTERN);
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** A copy of `bytes` as a key; throws KeyError unless it is exactly 32 bytes. */
export function keyFromBytes(bytes: Uint8Array, field = 'key'): WgKey {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_LENGTH) {
    throw new KeyError(
      field,
      'length',
      `expected ${KEY_LENGTH} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
    );
  }
  return Uint8Array.from(bytes) as WgKey;
}

/** Parses the 44-character base64 form used by wg(8) and wg-quick. */
export function keyFromBase64(text: string, field = 'key'): WgKey {
  if (typeof text !== 'string' || !BASE64_KEY.test(text)) {
    throw new KeyError(field, 'encoding', 'expected 44 characters of base64 encoding 32 bytes');
  }
  return keyFromBytes(new Uint8Array(Buffer.from(text, 'base64')), field);
}

/** Parses the 64-hex-character form used by the cross-platform UAPI. */
export function keyFromHex(text: string, field = 'key'): WgKey {
  if (typeof text !== 'string' || !HEX_KEY.test(text)) {
    throw new KeyError(field, 'encoding', 'expected 64 hexadecimal characters');
  }
  return keyFromBytes(new Uint8Array(Buffer.from(text, 'hex')), field);
}

export function keyToBase64(key: WgKey): string {
  return Buffer.from(key).toString('base64');
}

export function keyToHex(key: WgKey): string {
  return Buffer.from(key).toString('hex');
}

export function isZeroKey(key: Uint8Array): boolean {
  let acc = 0;
  for (const byte of key) acc |= byte;
  return acc === 0;
}

/** A clamped copy of a private key; an all-zero key is refused (the UAPI uses it to mean "no key"). */
export function privateKeyFromBytes(bytes: Uint8Array, field = 'private_key'): WgKey {
  const key = keyFromBytes(bytes, field);
  if (isZeroKey(key)) throw new KeyError(field, 'zero', 'an all-zero private key is no key');
  clampInPlace(key);
  return key;
}

export function publicKeyOf(privateKey: WgKey): WgKey {
  return DH_PUBLIC(privateKey) as WgKey;
}

/** A new random, clamped private key (what `wg genkey` prints). */
export function generatePrivateKey(random: (length: number) => Uint8Array = randomBytes): WgKey {
  return privateKeyFromBytes(random(KEY_LENGTH));
}
