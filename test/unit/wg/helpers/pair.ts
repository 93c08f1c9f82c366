/**
 * Two in-memory WireGuard nodes for the protocol tests: each a real
 * WireGuardProtocol core plus the reference data plane of transport.ts
 * (PeerTransport) for its one peer, joined by an in-memory "network" that
 * carries datagrams between them. Outputs are applied the way the device
 * must apply them. Time is a fake clock shared by both nodes.
 */
import { DH_GENERATE, DH_PUBLIC, ready } from '../../../../src/wg/crypto.js';
import type { Endpoint } from '../../../../src/wg/endpoint.js';
import { WireGuardProtocol, type DropReason, type Output, type PeerActivity } from '../../../../src/wg/protocol.js';
import { PeerTransport } from './transport.js';

export class FakeClock {
  monotonic = 1_000_000;
  wall = 1_700_000_000_000;
  advance(ms: number): void {
    this.monotonic += ms;
    this.wall += ms;
  }
}

export interface Datagram {
  from: Node;
  to: Endpoint;
  bytes: Uint8Array;
}

export class Node {
  readonly core: WireGuardProtocol;
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
  transport!: PeerTransport;
  endpoint: Endpoint;
  peerEndpoint: Endpoint | null = null;
  underLoad = false;
  readonly outputs: Output[] = [];
  readonly delivered: Uint8Array[] = [];
  readonly drops: { reason: DropReason; detail: string }[] = [];

  constructor(
    readonly name: string,
    readonly clock: FakeClock,
    endpoint: Endpoint,
  ) {
    this.privateKey = DH_GENERATE().privateKey;
    this.publicKey = DH_PUBLIC(this.privateKey);
    this.endpoint = endpoint;
    this.core = new WireGuardProtocol({
      privateKey: this.privateKey,
      clock: () => clock.monotonic,
      wallClock: () => clock.wall,
      onDrop: (reason, detail) => this.drops.push({ reason, detail }),
    });
  }

  report(): PeerActivity {
    return this.transport.report();
  }
}

export class Pair {
  readonly clock = new FakeClock();
  readonly a: Node;
  readonly b: Node;
  /** Datagrams in flight; `blocked` drops everything sent while set. */
  readonly inFlight: Datagram[] = [];
  blocked = false;
  readonly sent: Datagram[] = [];

  constructor(options: { presharedKey?: Uint8Array; presharedKeyB?: Uint8Array } = {}) {
    this.a = new Node('a', this.clock, { address: '198.51.100.1', port: 51820 });
    this.b = new Node('b', this.clock, { address: '198.51.100.2', port: 51821 });
    this.a.transport = new PeerTransport(this.b.publicKey);
    this.b.transport = new PeerTransport(this.a.publicKey);
    this.a.core.upsertPeer(this.b.publicKey, { presharedKey: options.presharedKey ?? null });
    this.b.core.upsertPeer(this.a.publicKey, { presharedKey: options.presharedKeyB ?? options.presharedKey ?? null });
    this.a.peerEndpoint = this.b.endpoint;
    this.b.peerEndpoint = this.a.endpoint;
  }

  static async create(options: { presharedKey?: Uint8Array; presharedKeyB?: Uint8Array } = {}): Promise<Pair> {
    await ready();
    return new Pair(options);
  }

  other(node: Node): Node {
    return node === this.a ? this.b : this.a;
  }

  /** Applies a node's outputs as a device would. */
  apply(node: Node, outputs: Output[]): void {
    for (const output of outputs) {
      node.outputs.push(output);
      switch (output.kind) {
        case 'send':
          if (node.peerEndpoint) this.#transmit(node, node.peerEndpoint, output.bytes);
          break;
        case 'sendTo':
          this.#transmit(node, output.endpoint, output.bytes);
          break;
        case 'endpoint':
          node.peerEndpoint = output.endpoint;
          break;
        case 'installKeypair':
          node.transport.install(output.keypair);
          if (output.keypair.initiator)
            for (const bytes of node.transport.flush(this.clock.monotonic))
              this.#transmit(node, node.peerEndpoint!, bytes);
          break;
        case 'removeKeypair':
          node.transport.remove(output.localIndex);
          break;
        case 'expireKeypairs':
          node.transport.expireAll();
          break;
        case 'sendKeepalive':
          for (const bytes of node.transport.sendKeepalive(this.clock.monotonic))
            this.#transmit(node, node.peerEndpoint!, bytes);
          break;
        case 'dropQueued':
          node.transport.dropQueued();
          break;
        default:
          break;
      }
    }
  }

  #transmit(from: Node, to: Endpoint, bytes: Uint8Array): void {
    const datagram = { from, to, bytes };
    this.sent.push(datagram);
    if (!this.blocked) this.inFlight.push(datagram);
  }

  /** Delivers one datagram to the node at its destination. */
  deliver(datagram: Datagram): void {
    const to = [this.a, this.b].find(
      (n) => n.endpoint.address === datagram.to.address && n.endpoint.port === datagram.to.port,
    );
    if (!to) return;
    const type = datagram.bytes[0];
    if (type === 4) {
      const opened = to.transport.open(datagram.bytes, this.clock.monotonic);
      if (opened.ok && !opened.keepalive) to.delivered.push(opened.plaintext);
      // a confirmed keypair lets the data plane send what it queued
      if (opened.ok)
        for (const bytes of to.transport.flush(this.clock.monotonic)) this.#transmit(to, to.peerEndpoint!, bytes);
    } else {
      this.apply(to, to.core.receiveHandshake(datagram.bytes, datagram.from.endpoint, to.underLoad));
    }
  }

  /** Delivers everything in flight, including what the deliveries cause, then lets both cores tick once. */
  pump(): void {
    for (let rounds = 0; rounds < 50; rounds++) {
      while (this.inFlight.length > 0) this.deliver(this.inFlight.shift()!);
      this.tick();
      if (this.inFlight.length === 0) return;
    }
    throw new Error('the network did not settle');
  }

  tick(): void {
    for (const node of [this.a, this.b]) this.apply(node, node.core.tick([node.report()]));
  }

  /** Sends application data from a node through its data plane. */
  sendData(from: Node, payload: Uint8Array): void {
    const bytes = from.transport.send(payload, this.clock.monotonic);
    if (bytes) this.#transmit(from, from.peerEndpoint!, bytes);
  }

  handshake(initiator: Node = this.a): void {
    this.apply(initiator, initiator.core.initiateHandshake(this.other(initiator).publicKey));
    this.pump();
  }

  /** Advances the clock in 100 ms ticks (as the device would), pumping the network each time. */
  run(ms: number, step = 100): void {
    for (let elapsed = 0; elapsed < ms; elapsed += step) {
      this.clock.advance(Math.min(step, ms - elapsed));
      this.pump();
    }
  }
}

export const kinds = (outputs: readonly Output[]) => outputs.map((o) => o.kind);
export const payload = (text: string) => new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).replace(/\0+$/, '');
