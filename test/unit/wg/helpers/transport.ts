/**
 * Transport data messages (type 4) in TypeScript: the executable
 * specification of the C packet path (native/wg_*), used by the tests to carry
 * real traffic between two protocol cores. It lives with the tests because
 * nothing in src/ runs it: the product's packets go through the C data plane.
 *
 * - `encryptTransport` / `decryptTransport`: one message with one key.
 *   Plaintext is padded with zeros to a multiple of 16, never beyond the MTU;
 *   the nonce is 4 zero bytes ‖ the little-endian 64-bit counter; a keepalive
 *   is an empty plaintext (32 bytes on the wire).
 * - `PeerTransport`: what the data plane keeps per peer — the current /
 *   previous / next keypair slots with the kernel's rotation rules, send
 *   counters, a replay window per keypair, the queue of packets waiting for a
 *   keypair, and the `PeerActivity` it reports to the protocol core on each
 *   tick. It obeys the core's outputs (installKeypair, removeKeypair,
 *   expireKeypairs, sendKeepalive, dropQueued) the way the device must.
 */
import {
  AEAD_TAG_LENGTH,
  PADDING_MULTIPLE,
  REJECT_AFTER_MESSAGES,
  TRANSPORT_MINIMUM_LENGTH,
} from '../../../../src/wg/constants.js';
import { AEAD, AEAD_OPEN } from '../../../../src/wg/crypto.js';
import { parseMessage, serializeTransport, type TransportMessage } from '../../../../src/wg/messages.js';
import { ReplayWindow } from './replay.js';
import type { InstalledKeypair, PeerActivity } from '../../../../src/wg/protocol.js';

/** The on-wire plaintext length of an IP packet of `length` bytes: padded to 16, never beyond the MTU. */
export function paddedLength(length: number, mtu: number): number {
  const padded = Math.ceil(length / PADDING_MULTIPLE) * PADDING_MULTIPLE;
  return Math.min(padded, Math.max(length, mtu));
}

export function encryptTransport(
  remoteIndex: number,
  sendKey: Uint8Array,
  counter: bigint,
  packet: Uint8Array,
  mtu: number,
): Uint8Array {
  const plaintext = new Uint8Array(paddedLength(packet.length, mtu));
  plaintext.set(packet);
  return serializeTransport({
    receiverIndex: remoteIndex,
    counter,
    encryptedPacket: AEAD(sendKey, counter, plaintext, new Uint8Array(0)),
  });
}

/** The padded plaintext of a transport message, or null when it does not authenticate. No replay check here. */
export function decryptTransport(receiveKey: Uint8Array, message: TransportMessage): Uint8Array | null {
  if (message.encryptedPacket.length < AEAD_TAG_LENGTH) return null;
  return AEAD_OPEN(receiveKey, message.counter, message.encryptedPacket, new Uint8Array(0));
}

interface Slot {
  readonly keypair: InstalledKeypair;
  sendCounter: bigint;
  readonly replay: ReplayWindow;
}

export type OpenResult =
  | { ok: true; plaintext: Uint8Array; keepalive: boolean }
  | { ok: false; reason: 'malformed' | 'unknown-index' | 'decrypt' | 'replay' };

/** The reference data plane of one peer (see the module comment). Times are the core's ms clock. */
export class PeerTransport {
  current: Slot | null = null;
  previous: Slot | null = null;
  next: Slot | null = null;
  readonly queue: Uint8Array[] = [];
  #activity: {
    -readonly [K in
      | 'lastDataSentAt'
      | 'lastDataReceivedAt'
      | 'lastAuthenticatedSentAt'
      | 'lastAuthenticatedReceivedAt']: number | null;
  } = {
    lastDataSentAt: null,
    lastDataReceivedAt: null,
    lastAuthenticatedSentAt: null,
    lastAuthenticatedReceivedAt: null,
  };
  #confirmedNext = false;

  constructor(
    readonly publicKey: Uint8Array,
    readonly mtu = 1420,
  ) {}

  /** installKeypair: an initiator's keypair is usable at once, a responder's waits in `next` for its first packet. */
  install(keypair: InstalledKeypair): void {
    const slot: Slot = { keypair, sendCounter: 0n, replay: new ReplayWindow() };
    if (keypair.initiator) {
      if (this.next) {
        this.previous = this.next;
        this.next = null;
      } else {
        this.previous = this.current;
      }
      this.current = slot;
    } else {
      this.next = slot;
      this.previous = null;
    }
  }

  remove(localIndex: number): void {
    if (this.current?.keypair.localIndex === localIndex) this.current = null;
    if (this.previous?.keypair.localIndex === localIndex) this.previous = null;
    if (this.next?.keypair.localIndex === localIndex) this.next = null;
  }

  expireAll(): void {
    this.current = this.previous = this.next = null;
  }

  dropQueued(): void {
    this.queue.length = 0;
  }

  /** Encrypts a packet on the current keypair, or queues it (and wants a handshake) when there is none. */
  send(packet: Uint8Array, now: number): Uint8Array | null {
    const slot = this.current;
    if (!slot || slot.sendCounter >= REJECT_AFTER_MESSAGES) {
      this.queue.push(packet);
      return null;
    }
    const bytes = encryptTransport(slot.keypair.remoteIndex, slot.keypair.sendKey, slot.sendCounter, packet, this.mtu);
    slot.sendCounter++;
    this.#activity.lastAuthenticatedSentAt = now;
    if (packet.length > 0) this.#activity.lastDataSentAt = now;
    return bytes;
  }

  /** sendKeepalive: queued packets if there are any, else one empty packet; [] without a usable keypair. */
  sendKeepalive(now: number): Uint8Array[] {
    if (!this.current) return [];
    if (this.queue.length > 0) return this.flush(now);
    const bytes = this.send(new Uint8Array(0), now);
    return bytes ? [bytes] : [];
  }

  flush(now: number): Uint8Array[] {
    if (!this.current) return [];
    const packets = this.queue.splice(0);
    return packets.map((p) => this.send(p, now)).filter((b): b is Uint8Array => b !== null);
  }

  /** Authenticates a transport message; the first one on `next` promotes it to current (and is reported). */
  open(bytes: Uint8Array, now: number): OpenResult {
    const parsed = parseMessage(bytes);
    if (!parsed.ok || parsed.message.type !== 4 || bytes.length < TRANSPORT_MINIMUM_LENGTH)
      return { ok: false, reason: 'malformed' };
    const message = parsed.message;
    const slot = [this.current, this.previous, this.next].find((s) => s?.keypair.localIndex === message.receiverIndex);
    if (!slot) return { ok: false, reason: 'unknown-index' };
    const plaintext = decryptTransport(slot.keypair.receiveKey, message);
    if (!plaintext) return { ok: false, reason: 'decrypt' };
    if (!slot.replay.validate(message.counter)) return { ok: false, reason: 'replay' };
    if (slot === this.next) {
      this.previous = this.current;
      this.current = slot;
      this.next = null;
      this.#confirmedNext = true;
    }
    this.#activity.lastAuthenticatedReceivedAt = now;
    const keepalive = plaintext.length === 0;
    if (!keepalive) this.#activity.lastDataReceivedAt = now;
    return { ok: true, plaintext, keepalive };
  }

  /** What the data plane reports to the core on a tick; the confirmation flag is an event and resets. */
  report(): PeerActivity {
    const report: PeerActivity = {
      publicKey: this.publicKey,
      ...this.#activity,
      sendCounter: this.current?.sendCounter ?? 0n,
      wantsHandshake: this.queue.length > 0 && !this.current,
      confirmedNextKeypair: this.#confirmedNext,
    };
    this.#confirmedNext = false;
    return report;
  }
}
