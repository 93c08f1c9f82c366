/**
 * The WireGuard protocol's constants, with the names of the protocol paper
 * (section 6 "Timers & Stateless UX" and section 5.4 "Messages"). Every other
 * module of the protocol core takes its numbers from here, so a reader can
 * check them against the paper in one place. Times are in milliseconds
 * because the core's injected clocks are in milliseconds.
 */

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';

export const REKEY_AFTER_MESSAGES = 1n << 60n;
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;

export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
/** Upper bound (exclusive) of the random jitter added to REKEY_TIMEOUT, as in the kernel and wireguard-go. */
export const REKEY_TIMEOUT_JITTER_MAX = 334;
export const KEEPALIVE_TIMEOUT = 10_000;
export const COOKIE_REFRESH_TIME = 120_000;
/** Keys are zeroed when no new handshake happened for this long. */
export const ZERO_KEYS_AFTER = REJECT_AFTER_TIME * 3;
/** The initiator starts a handshake on receive when its keypair is this old (165 s). */
export const REKEY_ON_RECEIVE_AFTER = REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
/** Data sent and nothing received for this long starts a new handshake (15 s, plus jitter). */
export const NEW_HANDSHAKE_AFTER = KEEPALIVE_TIMEOUT + REKEY_TIMEOUT;
/** An initiation from a peer less than this after its previous one is a flood and is dropped. */
export const INITIATION_FLOOD_INTERVAL = 20;

/** Per-source handshake rate limit under load: INITIATIONS_PER_SECOND with a burst of INITIATIONS_BURSTABLE. */
export const INITIATIONS_PER_SECOND = 20;
export const INITIATIONS_BURSTABLE = 5;

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const KEY_LENGTH = 32;
export const HASH_LENGTH = 32;
export const MAC_LENGTH = 16;
export const AEAD_TAG_LENGTH = 16;
export const TAI64N_LENGTH = 12;
export const COOKIE_LENGTH = 16;
export const COOKIE_NONCE_LENGTH = 24;

export const INITIATION_LENGTH = 148;
export const RESPONSE_LENGTH = 92;
export const COOKIE_REPLY_LENGTH = 64;
export const TRANSPORT_HEADER_LENGTH = 16;
/** The smallest transport message: header and tag around an empty payload (a keepalive). */
export const TRANSPORT_MINIMUM_LENGTH = TRANSPORT_HEADER_LENGTH + AEAD_TAG_LENGTH;
/** Transport plaintext is padded with zeros to a multiple of this (never beyond the MTU). */
export const PADDING_MULTIPLE = 16;

/** RFC 6479 replay window: a ring of 128 words of 64 bits, one word of which is always being reused. */
export const REPLAY_WORD_BITS = 64;
export const REPLAY_RING_WORDS = 128;
export const REPLAY_WINDOW_SIZE = (REPLAY_RING_WORDS - 1) * REPLAY_WORD_BITS; // 8128
