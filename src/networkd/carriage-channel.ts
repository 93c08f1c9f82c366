/**
 * The in-band channel of failover (carriage.ts): one UDP socket per network inside the NR's
 * namespace, bound to the NR's WireGuard address on CARRIAGE_PORT, so what it sends and hears
 * crosses the tunnel only — no control plane, no store. Two messages, one small JSON datagram each:
 *
 *   {"v":1,"net":NETID,"from":AGGREGATOR,"carries":[{"hidden":H,"forMs":AGE[,"to":NEXT]}, …]}   aggregator → every other NR
 *   {"v":1,"net":NETID,"from":HIDDEN,"uses":AGGREGATOR[,"next":NEXT],"pad":"…"}   hidden NR → its current aggregator
 *
 * A hello's bytes on the aggregator's receive counter are what says "it uses me" (a keepalive
 * could not: see carriage.ts), padded to tell it from a re-dial; its content is read only for
 * `next`, the aggregator a returning hidden NR is about to move to (the hand-over, carriage.ts),
 * and only from the hidden NR's own address. An announcement is taken only from
 * the WireGuard address of the aggregator it names: WireGuard's source check has already tied that
 * address to the aggregator's key, so no other peer can speak for it, and the NR's table drops
 * the port from anywhere but the WireGuard device, so no workload on the NR's bridge can forge
 * that address (nr/tables.ts).
 */
import dgram from 'node:dgram';
import { CARRIAGE_PORT } from '../netdef/index.js';
import { native } from '../native/binding.js';
import { type Carried, HELLO_PAYLOAD_BYTES } from './carriage.js';

/** Far above what a list of hidden NRs' ids needs; anything longer is not ours. */
const MAX_MESSAGE_BYTES = 16_384;

export interface Announcement {
  readonly from: string;
  readonly carries: readonly Carried[];
}

/** What a hidden NR's hello says: whom it is about to move to (null: nobody). */
export interface Hello {
  readonly from: string;
  readonly next: string | null;
}

type Message = ({ kind: 'announcement' } & Announcement) | ({ kind: 'hello' } & Hello);

export class CarriageChannel {
  readonly #socket: dgram.Socket;
  readonly #netId: string;
  readonly #received: Announcement[] = [];
  readonly #hellos: Hello[] = [];
  /** Who may speak: node → its WireGuard address (whether it may announce is carriage.ts's to judge). */
  #senders: ReadonlyMap<string, string> = new Map();

  /** Each sender's last list or hand-over, to tell news from a repetition. */
  readonly #last = new Map<string, string>();
  #onNews: () => void = () => {};

  private constructor(socket: dgram.Socket, netId: string, log: (message: string) => void) {
    this.#socket = socket;
    this.#netId = netId;
    socket.on('message', (data, remote) => {
      const message = this.#parse(data, remote.address);
      if (!message || this.#received.length + this.#hellos.length >= 1_000) return;
      let gist: string;
      if (message.kind === 'hello') {
        this.#hellos.push({ from: message.from, next: message.next });
        gist = `next ${message.next ?? ''}`;
      } else {
        this.#received.push({ from: message.from, carries: message.carries });
        gist = message.carries
          .map((c) => `${c.hidden}>${c.to ?? ''}`)
          .sort()
          .join(',');
      }
      if (this.#last.get(message.from) === gist) return;
      this.#last.set(message.from, gist);
      this.#onNews();
    });
    socket.on('error', (error) => log(`failover channel of ${netId}: ${error.message}`));
  }

  /**
   * Opens the socket inside the namespace at `netnsPath`. The socket(2) happens in `bind`, which
   * runs synchronously here (a lookup that answers at once), while the thread is in the namespace.
   */
  static open(netnsPath: string, netId: string, address: string, log: (message: string) => void): CarriageChannel {
    const socket = native().inNetns(netnsPath, () => {
      const created = dgram.createSocket({
        type: 'udp4',
        lookup: (host, _options, callback) => (callback as (e: null, a: string, f: number) => void)(null, host, 4),
      });
      try {
        created.bind({ address, port: CARRIAGE_PORT, exclusive: true });
      } catch (error) {
        created.close();
        throw error;
      }
      return created;
    });
    return new CarriageChannel(socket, netId, log);
  }

  /** The NRs whose messages count, by node, with their WireGuard addresses. */
  allow(senders: ReadonlyMap<string, string>): void {
    this.#senders = senders;
  }

  /**
   * Called when an aggregator announces another list than before (a hidden NR moved): the
   * monitor acts on it at once instead of at its next poll, which shortens the moment in which
   * one side has moved and the other not (WireGuard's source check drops what crosses it).
   */
  onNews(callback: () => void): void {
    this.#onNews = callback;
  }

  /** The announcements heard since the last call. */
  drain(): Announcement[] {
    return this.#received.splice(0);
  }

  /** The hellos heard since the last call (only an aggregator hears any). */
  drainHellos(): Hello[] {
    return this.#hellos.splice(0);
  }

  announce(to: string, from: string, carries: readonly Carried[]): void {
    this.#send(to, { v: 1, net: this.#netId, from, carries });
  }

  hello(to: string, from: string, uses: string, next: string | null = null): void {
    const message = { v: 1, net: this.#netId, from, uses, ...(next === null ? {} : { next }), pad: '' };
    message.pad = '.'.repeat(Math.max(0, HELLO_PAYLOAD_BYTES - JSON.stringify(message).length));
    this.#send(to, message);
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }

  #send(to: string, message: object): void {
    // Fire and forget: a lost datagram is the next poll's to repeat.
    this.#socket.send(JSON.stringify(message), CARRIAGE_PORT, to, () => {});
  }

  #parse(data: Buffer, source: string): Message | null {
    if (data.length > MAX_MESSAGE_BYTES) return null;
    let message: unknown;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      return null;
    }
    if (typeof message !== 'object' || message === null) return null;
    const { v, net, from, carries, uses, next } = message as Record<string, unknown>;
    if (v !== 1 || net !== this.#netId || typeof from !== 'string') return null;
    if (this.#senders.get(from) !== source) return null;
    if (typeof uses === 'string') {
      if (next !== undefined && typeof next !== 'string') return null;
      return { kind: 'hello', from, next: next ?? null };
    }
    if (!Array.isArray(carries)) return null;
    const valid = (c: unknown): c is Carried =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as Carried).hidden === 'string' &&
      Number.isFinite((c as Carried).forMs) &&
      (c as Carried).forMs >= 0 &&
      ((c as Carried).to === undefined || typeof (c as Carried).to === 'string');
    if (!carries.every(valid)) return null;
    return {
      kind: 'announcement',
      from,
      carries: carries.map(({ hidden, forMs, to }) => ({ hidden, forMs, ...(to === undefined ? {} : { to }) })),
    };
  }
}
