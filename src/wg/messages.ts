/**
 * The four WireGuard messages on the wire (protocol paper section 5.4): their
 * exact layouts, parsing and serialisation. The first four bytes are the
 * message type as a little-endian u32 (type byte, then three zero bytes);
 * every index and counter is little-endian. Parsing never throws: anything of
 * the wrong size or type is a `ParseFailure` with a reason, so a caller can
 * count and drop it.
 *
 * mac1 covers every byte before the mac1 field, mac2 every byte before mac2;
 * `MAC1_OFFSET`/`MAC2_OFFSET` give those boundaries for cookie.ts.
 */
import {
  AEAD_TAG_LENGTH,
  COOKIE_NONCE_LENGTH,
  COOKIE_REPLY_LENGTH,
  INITIATION_LENGTH,
  KEY_LENGTH,
  MAC_LENGTH,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  RESPONSE_LENGTH,
  TAI64N_LENGTH,
  TRANSPORT_HEADER_LENGTH,
  TRANSPORT_MINIMUM_LENGTH,
  COOKIE_LENGTH,
} from './constants.js';

export interface InitiationMessage {
  readonly type: typeof MESSAGE_INITIATION;
  readonly senderIndex: number;
  readonly unencryptedEphemeral: Uint8Array; // 32
  readonly encryptedStatic: Uint8Array; // 32 + 16
  readonly encryptedTimestamp: Uint8Array; // 12 + 16
  readonly mac1: Uint8Array; // 16
  readonly mac2: Uint8Array; // 16
}

export interface ResponseMessage {
  readonly type: typeof MESSAGE_RESPONSE;
  readonly senderIndex: number;
  readonly receiverIndex: number;
  readonly unencryptedEphemeral: Uint8Array; // 32
  readonly encryptedNothing: Uint8Array; // 0 + 16
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

export interface CookieReplyMessage {
  readonly type: typeof MESSAGE_COOKIE_REPLY;
  readonly receiverIndex: number;
  readonly nonce: Uint8Array; // 24
  readonly encryptedCookie: Uint8Array; // 16 + 16
}

export interface TransportMessage {
  readonly type: typeof MESSAGE_TRANSPORT;
  readonly receiverIndex: number;
  readonly counter: bigint;
  readonly encryptedPacket: Uint8Array; // payload + 16
}

export type Message = InitiationMessage | ResponseMessage | CookieReplyMessage | TransportMessage;

export type ParseFailureReason = 'too-short' | 'unknown-type' | 'wrong-size';
export interface ParseFailure {
  readonly ok: false;
  readonly reason: ParseFailureReason;
  readonly detail: string;
}
export type ParseResult = { readonly ok: true; readonly message: Message } | ParseFailure;

/** Offsets of mac1 and mac2 in the two message types that carry them. */
export const MAC1_OFFSET = { [MESSAGE_INITIATION]: 116, [MESSAGE_RESPONSE]: 60 } as const;
export const MAC2_OFFSET = { [MESSAGE_INITIATION]: 132, [MESSAGE_RESPONSE]: 76 } as const;

const EXPECTED_LENGTH: Record<number, number> = {
  [MESSAGE_INITIATION]: INITIATION_LENGTH,
  [MESSAGE_RESPONSE]: RESPONSE_LENGTH,
  [MESSAGE_COOKIE_REPLY]: COOKIE_REPLY_LENGTH,
};

function fail(reason: ParseFailureReason, detail: string): ParseFailure {
  return { ok: false, reason, detail };
}

/** The message type of `bytes`, or null when it has no 4-byte header. Used to route without a full parse. */
export function messageType(bytes: Uint8Array): number | null {
  if (bytes.length < 4) return null;
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
}

export function parseMessage(bytes: Uint8Array): ParseResult {
  if (!(bytes instanceof Uint8Array)) return fail('too-short', 'not a byte array');
  const type = messageType(bytes);
  if (type === null) return fail('too-short', `${bytes.length} bytes, no message header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Copies, not views: a parsed message outlives the caller's receive buffer.
  const take = (offset: number, length: number) => bytes.slice(offset, offset + length);

  if (type === MESSAGE_TRANSPORT) {
    if (bytes.length < TRANSPORT_MINIMUM_LENGTH) {
      return fail(
        'too-short',
        `transport message of ${bytes.length} bytes, at least ${TRANSPORT_MINIMUM_LENGTH} required`,
      );
    }
    return {
      ok: true,
      message: {
        type,
        receiverIndex: view.getUint32(4, true),
        counter: view.getBigUint64(8, true),
        encryptedPacket: bytes.slice(TRANSPORT_HEADER_LENGTH),
      },
    };
  }
  const expected = EXPECTED_LENGTH[type];
  if (expected === undefined) return fail('unknown-type', `message type ${type}`);
  if (bytes.length !== expected)
    return fail('wrong-size', `type ${type} message of ${bytes.length} bytes, expected ${expected}`);

  switch (type) {
    case MESSAGE_INITIATION:
      return {
        ok: true,
        message: {
          type,
          senderIndex: view.getUint32(4, true),
          unencryptedEphemeral: take(8, KEY_LENGTH),
          encryptedStatic: take(40, KEY_LENGTH + AEAD_TAG_LENGTH),
          encryptedTimestamp: take(88, TAI64N_LENGTH + AEAD_TAG_LENGTH),
          mac1: take(116, MAC_LENGTH),
          mac2: take(132, MAC_LENGTH),
        },
      };
    case MESSAGE_RESPONSE:
      return {
        ok: true,
        message: {
          type,
          senderIndex: view.getUint32(4, true),
          receiverIndex: view.getUint32(8, true),
          unencryptedEphemeral: take(12, KEY_LENGTH),
          encryptedNothing: take(44, AEAD_TAG_LENGTH),
          mac1: take(60, MAC_LENGTH),
          mac2: take(76, MAC_LENGTH),
        },
      };
    default: // MESSAGE_COOKIE_REPLY
      return {
        ok: true,
        message: {
          type: MESSAGE_COOKIE_REPLY,
          receiverIndex: view.getUint32(4, true),
          nonce: take(8, COOKIE_NONCE_LENGTH),
          encryptedCookie: take(32, COOKIE_LENGTH + AEAD_TAG_LENGTH),
        },
      };
  }
}

function header(length: number, type: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  return { bytes, view };
}

function put(bytes: Uint8Array, offset: number, field: Uint8Array, length: number): void {
  if (field.length !== length)
    throw new RangeError(`message field at offset ${offset} must be ${length} bytes, got ${field.length}`);
  bytes.set(field, offset);
}

/** Serialises an initiation; mac1/mac2 default to zeros and are normally filled in by cookie.ts. */
export function serializeInitiation(
  m: Omit<InitiationMessage, 'type' | 'mac1' | 'mac2'> & Partial<Pick<InitiationMessage, 'mac1' | 'mac2'>>,
): Uint8Array {
  const { bytes, view } = header(INITIATION_LENGTH, MESSAGE_INITIATION);
  view.setUint32(4, m.senderIndex >>> 0, true);
  put(bytes, 8, m.unencryptedEphemeral, KEY_LENGTH);
  put(bytes, 40, m.encryptedStatic, KEY_LENGTH + AEAD_TAG_LENGTH);
  put(bytes, 88, m.encryptedTimestamp, TAI64N_LENGTH + AEAD_TAG_LENGTH);
  if (m.mac1) put(bytes, 116, m.mac1, MAC_LENGTH);
  if (m.mac2) put(bytes, 132, m.mac2, MAC_LENGTH);
  return bytes;
}

export function serializeResponse(
  m: Omit<ResponseMessage, 'type' | 'mac1' | 'mac2'> & Partial<Pick<ResponseMessage, 'mac1' | 'mac2'>>,
): Uint8Array {
  const { bytes, view } = header(RESPONSE_LENGTH, MESSAGE_RESPONSE);
  view.setUint32(4, m.senderIndex >>> 0, true);
  view.setUint32(8, m.receiverIndex >>> 0, true);
  put(bytes, 12, m.unencryptedEphemeral, KEY_LENGTH);
  put(bytes, 44, m.encryptedNothing, AEAD_TAG_LENGTH);
  if (m.mac1) put(bytes, 60, m.mac1, MAC_LENGTH);
  if (m.mac2) put(bytes, 76, m.mac2, MAC_LENGTH);
  return bytes;
}

export function serializeCookieReply(m: Omit<CookieReplyMessage, 'type'>): Uint8Array {
  const { bytes, view } = header(COOKIE_REPLY_LENGTH, MESSAGE_COOKIE_REPLY);
  view.setUint32(4, m.receiverIndex >>> 0, true);
  put(bytes, 8, m.nonce, COOKIE_NONCE_LENGTH);
  put(bytes, 32, m.encryptedCookie, COOKIE_LENGTH + AEAD_TAG_LENGTH);
  return bytes;
}

export function serializeTransport(m: Omit<TransportMessage, 'type'>): Uint8Array {
  if (m.encryptedPacket.length < AEAD_TAG_LENGTH)
    throw new RangeError('a transport payload carries at least the 16-byte tag');
  const { bytes, view } = header(TRANSPORT_HEADER_LENGTH + m.encryptedPacket.length, MESSAGE_TRANSPORT);
  view.setUint32(4, m.receiverIndex >>> 0, true);
  view.setBigUint64(8, m.counter, true);
  bytes.set(m.encryptedPacket, TRANSPORT_HEADER_LENGTH);
  return bytes;
}
