/**
 * WireGuardDevice: one userspace WireGuard interface. It owns a TUN (opened by
 * name in the namespace asked for), the UDP sockets (opened in another
 * namespace, normally the node's, so the mesh never routes its own underlay),
 * the C data plane that moves packets between them, the sans-I/O protocol core
 * that does handshakes and timers, and the device configuration that the UAPI
 * reads and writes.
 *
 * Flow: the UAPI hands a parsed SetRequest to set(); applySet computes the
 * whole new configuration (or throws, changing nothing); new sockets are bound
 * and the data plane's peer changes staged before anything is committed (a port
 * in use is -EADDRINUSE, a refusing data plane -EIO with its staged steps
 * undone: an errno always means nothing changed); then the configuration is
 * committed and the changes are carried out on the core.
 * The data plane reports handshake messages, "wants handshake" edges and
 * confirmed keypairs through callbacks, each of which ticks the core at once;
 * the core is also ticked when its earliest timer is due, and the per-peer
 * activity is read once every ACTIVITY_INTERVAL_MS, on one timer for all the
 * devices of the process (an idle device wakes nobody up more often).
 *
 * Peers are known by their public key (hex) to the configuration and core,
 * and by a small integer id to the data plane; this module keeps that map.
 */
import { existsSync } from 'node:fs';
import { native } from '../native/binding.js';
import { WG_MTU } from '../netdef/addressing.js';
import { EMPTY_DEVICE_CONFIG, applySet, type ConfigChange, type DeviceConfig, type SetRequest } from './config.js';
import { DH_PUBLIC, ready as cryptoReady } from './crypto.js';
import {
  Dataplane,
  DataplaneError,
  monotonicMs,
  type Cidr,
  type HandshakeMessage,
  type LocalSource,
  type PeerStats,
} from './dataplane.js';
import type { Endpoint } from './endpoint.js';
import { WireGuardProtocol, type Output, type PeerActivity } from './protocol.js';
import { SharedTicker } from './shared-ticker.js';
import { UapiError } from './uapi/errors.js';
import { UapiEndpoint, type AllowedIp } from './uapi/ip.js';
import type { UapiDevice } from './uapi/server.js';
import { viewFromConfig, type DeviceView, type PeerRuntime } from './uapi/view.js';
import { releaseHeldTun } from './tun-release.js';

/**
 * How often the data plane's per-peer activity is read into the core, and whether the TUN's named
 * namespace still exists. Activity comes with its own times, so reading it late moves no timer:
 * the timers it arms are due KEEPALIVE_TIMEOUT (10 s) or more after it, and a tick at a timer's
 * deadline reads the activity first. Only the rekey checks on absorbing (a keypair past
 * REKEY_AFTER_TIME, 120 s, with 60 s to spare) wait up to this long, and the data plane reports
 * those wants itself.
 */
const ACTIVITY_INTERVAL_MS = 1000;
/**
 * Every how many of those the TUN link's MTU is read. It only sets the padding (packets of any
 * size are carried at once whatever it says), and the read is the dearest periodic work: it
 * enters the link's namespace for a socket, ~70 µs. It also finds a deleted link should the
 * packet thread's event have been lost. The devices take turns, so the reads spread over rounds.
 */
const LINK_READ_EVERY = 5;
/** How soon the core is ticked for a deadline that is already past. */
const OVERDUE_TICK_MS = 100;
let linkReadTurn = 0;
/** The timer the devices of this process share for their periodic reads. */
const ticker = new SharedTicker(ACTIVITY_INTERVAL_MS);
/** A batch of handshake messages this large means "under load" (wireguard-go: queue ≥ 1/8 full). */
const UNDER_LOAD_BATCH = 128;
/** Once under load, stay so for this long (as wireguard-go does). */
const UNDER_LOAD_HOLD_MS = 1000;
/** Attempts at binding a random port on both families before giving up. */
const RANDOM_PORT_ATTEMPTS = 8;

export interface DeviceOptions {
  /** Interface name of the TUN (≤ 15 bytes). */
  readonly name: string;
  /** Namespace of the TUN (a path such as /run/netns/X); null: the process's own. */
  readonly tunNetns: string | null;
  /** Namespace of the UDP sockets; null: the process's own. */
  readonly udpNetns: string | null;
  readonly mtu?: number;
  /**
   * Called once when the device stops by itself: its TUN's link was deleted, in whatever namespace
   * it was by then (a link moved to another namespace lives on: its UDP sockets stay here), or the
   * named namespace `tunNetns` it was created in was deleted.
   */
  readonly onGone?: (reason: string) => void;
  /** Diagnostics without secrets (handshakes completed, sockets rebound). */
  readonly log?: (message: string) => void;
}

interface PeerEntry {
  readonly id: number;
  readonly key: Uint8Array;
  readonly hex: string;
}

interface BoundSockets {
  readonly port: number;
  readonly udp4: number | null;
  readonly udp6: number | null;
}

/** errno name of a native error, if any. */
function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/**
 * Binds the UDP sockets of a device: IPv4 and, when the kernel has it, IPv6
 * on the same port. Port 0 picks a random port free on both families.
 */
function bindSockets(netns: string | null, port: number): BoundSockets {
  const n = native();
  for (let attempt = 0; ; attempt++) {
    const v4 = n.udpSocketInNetns(netns, 4, '0.0.0.0', port);
    try {
      const v6 = n.udpSocketInNetns(netns, 6, '::', v4.port);
      return { port: v4.port, udp4: v4.fd, udp6: v6.fd };
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL') return { port: v4.port, udp4: v4.fd, udp6: null };
      n.closeFd(v4.fd);
      if (code === 'EADDRINUSE' && port === 0 && attempt < RANDOM_PORT_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** SO_MARK on both sockets, as the kernel's WireGuard marks what it sends (0 clears it). */
function markSockets(s: BoundSockets, mark: number): void {
  if (s.udp4 !== null) native().setSocketMark(s.udp4, mark);
  if (s.udp6 !== null) native().setSocketMark(s.udp6, mark);
}

function closeSockets(s: BoundSockets): void {
  if (s.udp4 !== null) native().closeFd(s.udp4);
  if (s.udp6 !== null) native().closeFd(s.udp6);
}

function cidrOf(ip: AllowedIp): Cidr {
  const slash = ip.text.lastIndexOf('/');
  return { address: ip.text.slice(0, slash), prefix: ip.prefixLength };
}

function dataplaneEndpoint(e: UapiEndpoint | null): Endpoint | null {
  return e === null ? null : { address: e.address, port: e.port };
}

function nullIfNever(ms: number): number | null {
  return ms === 0 ? null : ms;
}

export class WireGuardDevice implements UapiDevice {
  readonly name: string;
  readonly #options: DeviceOptions;
  readonly #core: WireGuardProtocol;
  readonly #dataplane: Dataplane;
  #config: DeviceConfig = EMPTY_DEVICE_CONFIG;
  #port: number;
  /** The sockets the data plane sends on (it owns them; kept here to mark them). */
  #sockets: BoundSockets;
  readonly #peersByHex = new Map<string, PeerEntry>();
  readonly #peersById = new Map<number, PeerEntry>();
  #nextPeerId = 1;
  readonly #wants = new Set<number>();
  readonly #confirmed = new Set<number>();
  #underLoadUntil = 0;
  /** Stops this device's periodic reads on the shared ticker. */
  readonly #stopPeriodic: () => void;
  /** Fires when the core's earliest timer is due (#armDue), at `#dueTimerAt`. */
  #dueTimer: NodeJS.Timeout | null = null;
  #dueTimerAt = Infinity;
  #tickScheduled = false;
  #closed = false;
  #released: Promise<void> = Promise.resolve();
  /** Fault injection for tests: called before each data plane step of a set (throw to make it refuse). */
  readonly hooks: { beforeDataplaneStep?: () => void } = {};

  private constructor(options: DeviceOptions, sockets: BoundSockets, tunFd: number, mtu: number) {
    this.name = options.name;
    this.#options = options;
    this.#port = sockets.port;
    this.#sockets = sockets;
    this.#core = new WireGuardProtocol({ privateKey: null, clock: monotonicMs });
    this.#dataplane = Dataplane.create({
      tunFd,
      udp4Fd: sockets.udp4,
      udp6Fd: sockets.udp6,
      mtu,
      tunOffload: true,
      onHandshakeMessages: (messages) => this.#onHandshakeMessages(messages),
      onWantsHandshake: (ids) => {
        for (const id of ids) this.#wants.add(id);
        this.#scheduleTick();
      },
      onKeypairConfirmed: (confirmed) => {
        for (const c of confirmed) this.#confirmed.add(c.peerId);
        this.#scheduleTick();
      },
      onTunGone: () => this.#gone(`interface ${this.name} was deleted`),
    });
    let round = linkReadTurn++ % LINK_READ_EVERY;
    this.#stopPeriodic = ticker.add(() => {
      // A device without peers has no activity to read and no timers.
      if (this.#peersById.size > 0) this.#tick();
      round = (round + 1) % LINK_READ_EVERY;
      this.#checkLink(round === 0);
    });
  }

  /** Opens the TUN and the sockets (a random port until listen_port is set) and starts the data plane. */
  static async create(options: DeviceOptions): Promise<WireGuardDevice> {
    await cryptoReady();
    const mtu = options.mtu ?? WG_MTU;
    const n = native();
    // With the virtio-net header the kernel hands over 64 KiB TSO super-packets and takes
    // coalesced ones: one syscall per ~45 packets instead of one each (the data plane's offloads).
    const tun = n.openTun(options.tunNetns, options.name, n.constants.TUN_VNET_HDR);
    let sockets: BoundSockets | null = null;
    try {
      n.setLinkMtu(options.tunNetns, tun.name, mtu);
      sockets = bindSockets(options.udpNetns, 0);
      return new WireGuardDevice({ ...options, name: tun.name }, sockets, tun.fd, mtu);
    } catch (error) {
      if (sockets) closeSockets(sockets);
      n.closeFd(tun.fd);
      throw error;
    }
  }

  /** The port the device's sockets are bound to. */
  get listenPort(): number {
    return this.#port;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ------------------------------------------------------------------ UAPI

  get(): DeviceView {
    this.#assertOpen();
    const stats = new Map<number, PeerStats>();
    for (const s of this.#dataplane.peerStats()) stats.set(s.peerId, s);
    return viewFromConfig(this.#config, {
      listenPort: this.#port,
      peer: (hex) => this.#runtimeOf(hex, stats),
    });
  }

  /**
   * Applies a set request atomically across the configuration and the data plane: everything
   * that can fail (binding and marking sockets, the data plane's peer changes) happens before the
   * configuration is committed, and a data plane that refuses a step has the steps before it
   * undone — so an errno answer always means nothing changed.
   */
  set(request: SetRequest): void {
    this.#assertOpen();
    const { config, changes } = applySet(this.#config, request, DH_PUBLIC);
    let sockets: BoundSockets | null = null;
    const portChange = changes.find((c) => c.kind === 'listen-port-changed');
    if (portChange && config.listenPort !== this.#port) {
      try {
        sockets = bindSockets(this.#options.udpNetns, config.listenPort);
      } catch (error) {
        if (errnoCode(error) === 'EADDRINUSE')
          throw new UapiError('EADDRINUSE', `listen_port ${config.listenPort} is in use`);
        throw new UapiError('EIO', `cannot bind listen_port ${config.listenPort}: ${errnoCode(error) ?? 'error'}`);
      }
    }
    const markChanged = changes.some((c) => c.kind === 'fwmark-changed');
    const undoSockets = (): void => {
      if (sockets) closeSockets(sockets);
      else if (markChanged) {
        try {
          markSockets(this.#sockets, this.#config.fwmark); // back to the old mark: the set changes nothing
        } catch {
          // It was set before; failing now would mean the sockets are gone, which the link check reports.
        }
      }
    };
    if (markChanged || (sockets && config.fwmark !== 0)) {
      try {
        markSockets(sockets ?? this.#sockets, config.fwmark);
      } catch (error) {
        undoSockets();
        throw new UapiError('EIO', `cannot set fwmark ${config.fwmark} on the sockets: ${errnoCode(error) ?? 'error'}`);
      }
    }
    let added: Map<string, PeerEntry>;
    try {
      added = this.#stagePeers(config, changes);
    } catch (error) {
      undoSockets();
      const reason = error instanceof DataplaneError ? error.message : 'internal error';
      throw new UapiError('EIO', `the data plane refused the change (${reason}); nothing was changed`);
    }
    this.#config = config;
    if (sockets) {
      this.#dataplane.setSockets(sockets.udp4, sockets.udp6);
      this.#port = sockets.port;
      this.#sockets = sockets;
      this.#options.log?.(`listening on port ${sockets.port}`);
    }
    try {
      this.#commit(changes, added);
    } catch (error) {
      // The configuration and data plane are committed; a failure in the core is an internal one.
      throw new UapiError('EIO', `applying the configuration failed: ${(error as Error).message}`);
    }
  }

  /**
   * The data plane's peer table as it is (for checks that it matches the configuration): each
   * peer the data plane holds, by public key (hex; `null` for an id the device does not know),
   * with its endpoint; and which configured peer an address routes to.
   */
  dataplaneTable(): {
    peers: { publicKeyHex: string | null; endpoint: string | null }[];
    routeOf(address: string): string | null;
  } {
    this.#assertOpen();
    const peers = this.#dataplane.peerStats().map((s) => ({
      publicKeyHex: this.#peersById.get(s.peerId)?.hex ?? null,
      endpoint:
        s.endpoint === null
          ? null
          : s.endpoint.address.includes(':')
            ? `[${s.endpoint.address}]:${s.endpoint.port}`
            : `${s.endpoint.address}:${s.endpoint.port}`,
    }));
    return {
      peers,
      routeOf: (address) => {
        const id = this.#dataplane.lookup(address);
        return id === null ? null : (this.#peersById.get(id)?.hex ?? `unknown peer id ${id}`);
      },
    };
  }

  // ------------------------------------------------------------ lifecycle

  /** Lets the data plane's threads begin to stop, for a burst of closes (close() follows). */
  beginClose(): void {
    this.#dataplane.signalStop();
  }

  /**
   * Settles once the device holds nothing of its TUN's namespace any more: at once, or after
   * close() when the TUN was left to a deleted namespace and its fd waits for its batch.
   */
  get released(): Promise<void> {
    return this.#released;
  }

  /**
   * Stops the data plane (keys are wiped in C) and the timers. Idempotent. When the TUN's named
   * namespace has been deleted, its link is left to the kernel's cleanup of that namespace (which
   * deletes all its links in one batch) rather than unregistered alone by closing the fd, and the
   * fd is closed with those of other devices closed about now (tun-release.ts): `released`.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPeriodic();
    if (this.#dueTimer) clearTimeout(this.#dueTimer);
    this.#dueTimer = null;
    const held = this.#dataplane.close({ leaveLink: this.#namespaceDeleted() });
    if (held !== null) this.#released = releaseHeldTun(held);
    // Drop the core's sessions too, so nothing keyed lingers in JS memory.
    this.#core.setPrivateKey(null);
  }

  /** Counters of dropped packets (data plane) and messages (core), for diagnostics. */
  drops(): { dataplane: Record<string, number>; handshake: Record<string, number> } {
    return { dataplane: this.#dataplane.dropCounters(), handshake: this.#core.drops() };
  }

  // ------------------------------------------------------------ internals

  #assertOpen(): void {
    if (this.#closed) throw new UapiError('EIO', `device ${this.name} is closed`);
  }

  #runtimeOf(hex: string, stats: Map<number, PeerStats>): PeerRuntime | undefined {
    const entry = this.#peersByHex.get(hex);
    if (!entry) return undefined;
    const s = stats.get(entry.id);
    const status = this.#core.peerStatus(entry.key);
    const wall = status?.lastHandshakeWallMs ?? null;
    const runtime: { -readonly [K in keyof PeerRuntime]: PeerRuntime[K] } = {
      lastHandshake:
        wall === null ? { sec: 0, nsec: 0 } : { sec: Math.floor(wall / 1000), nsec: (wall % 1000) * 1_000_000 },
    };
    if (s) {
      runtime.txBytes = BigInt(s.txBytes);
      runtime.rxBytes = BigInt(s.rxBytes);
      if (s.endpoint) {
        // Mostly the configured endpoint (no roaming): reuse it rather than parse 10,000 texts per `wg show`.
        const configured = this.#config.peers.get(hex)?.endpoint;
        runtime.endpoint =
          configured && configured.address === s.endpoint.address && configured.port === s.endpoint.port
            ? configured
            : UapiEndpoint.parse(
                s.endpoint.address.includes(':')
                  ? `[${s.endpoint.address}]:${s.endpoint.port}`
                  : `${s.endpoint.address}:${s.endpoint.port}`,
              );
      }
    }
    return runtime;
  }

  /**
   * The data plane half of a set, before the commit: new peers created (with fresh ids) and
   * changed endpoints and allowed IPs set. Removals wait for the commit (they cannot be undone
   * without losing sessions, and cannot fail). When a step throws, the steps before it are undone
   * in reverse order and the error is passed on. Undoing a step restores its peer's previous
   * endpoint and allowed IPs, and gives back the prefixes it took from other peers: an allowed IP
   * set on one peer moves from whichever peer had it, so removing it again would leave it with no
   * peer at all. Resolves to the new peers' entries, by key.
   */
  #stagePeers(config: DeviceConfig, changes: readonly ConfigChange[]): Map<string, PeerEntry> {
    const added = new Map<string, PeerEntry>();
    const undo: (() => void)[] = [];
    let live: Map<number, Endpoint | null> | null = null; // endpoints before the set (a roamed one included)
    let ownerBefore: Map<string, string> | null = null; // prefix → the peer (hex) that had it before the set
    /** Gives the prefixes a staged step set on peer `id` back to the peers that had them before the set. */
    const giveBack = (id: number, allowedIps: readonly AllowedIp[]): void => {
      if (ownerBefore === null) {
        ownerBefore = new Map();
        for (const p of this.#config.peers.values()) {
          for (const ip of p.allowedIps) ownerBefore.set(ip.text, p.publicKey.hex);
        }
      }
      const owners = new Set<string>();
      for (const ip of allowedIps) {
        const hex = ownerBefore.get(ip.text);
        if (hex !== undefined && this.#peersByHex.get(hex)?.id !== id) owners.add(hex);
      }
      for (const hex of owners) {
        const entry = this.#peersByHex.get(hex);
        const before = this.#config.peers.get(hex);
        if (entry && before) this.#dataplane.setPeer(entry.id, { allowedIps: before.allowedIps.map(cidrOf) });
      }
    };
    try {
      for (const change of changes) {
        if (change.kind === 'peer-added') {
          const peer = config.peers.get(change.publicKey.hex);
          if (!peer) continue; // e.g. our own public key: ignored by applySet
          const entry: PeerEntry = {
            id: this.#nextPeerId++,
            key: peer.publicKey.bytes(),
            hex: peer.publicKey.hex,
          };
          this.hooks.beforeDataplaneStep?.();
          this.#dataplane.setPeer(entry.id, {
            endpoint: dataplaneEndpoint(peer.endpoint),
            allowedIps: peer.allowedIps.map(cidrOf),
          });
          undo.push(() => {
            this.#dataplane.removePeer(entry.id);
            giveBack(entry.id, peer.allowedIps);
          });
          added.set(entry.hex, entry);
        } else if (change.kind === 'peer-updated') {
          const peer = config.peers.get(change.publicKey.hex);
          const old = this.#config.peers.get(change.publicKey.hex);
          const entry = this.#peersByHex.get(change.publicKey.hex);
          const endpoint = change.fields.includes('endpoint');
          const allowedIps = change.fields.includes('allowedIps');
          if (!peer || !old || !entry || (!endpoint && !allowedIps)) continue;
          if (endpoint) live ??= new Map(this.#dataplane.peerStats().map((s) => [s.peerId, s.endpoint]));
          const before = live?.get(entry.id) ?? dataplaneEndpoint(old.endpoint);
          this.hooks.beforeDataplaneStep?.();
          this.#dataplane.setPeer(entry.id, {
            ...(endpoint ? { endpoint: dataplaneEndpoint(peer.endpoint) } : {}),
            ...(allowedIps ? { allowedIps: peer.allowedIps.map(cidrOf) } : {}),
          });
          undo.push(() => {
            this.#dataplane.setPeer(entry.id, {
              ...(endpoint ? { endpoint: before } : {}),
              ...(allowedIps ? { allowedIps: old.allowedIps.map(cidrOf) } : {}),
            });
            if (allowedIps) giveBack(entry.id, peer.allowedIps);
          });
        }
      }
    } catch (error) {
      for (const step of undo.reverse()) {
        try {
          step();
        } catch (undoError) {
          this.#options.log?.(`undoing a refused set failed: ${(undoError as Error).message}`);
        }
      }
      throw error;
    }
    return added;
  }

  /** The committed changes carried out on the core, and the data plane's removals (the rest was staged). */
  #commit(changes: readonly ConfigChange[], added: ReadonlyMap<string, PeerEntry>): void {
    const outputs: Output[] = [];
    for (const change of changes) {
      switch (change.kind) {
        case 'private-key-changed': {
          const key = this.#config.privateKey;
          outputs.push(...this.#core.setPrivateKey(key === null ? null : key.bytes()));
          break;
        }
        case 'listen-port-changed':
        case 'fwmark-changed':
          break; // sockets rebound and marked before the commit
        case 'peer-removed': {
          const entry = this.#peersByHex.get(change.publicKey.hex);
          if (entry) {
            // The core forgets its sessions; removing the peer from the data plane drops its
            // keypairs, allowed IPs and queued packets, so the core's outputs need no applying.
            this.#core.removePeer(entry.key);
            this.#forgetPeer(entry);
          }
          break;
        }
        case 'peer-added': {
          const peer = this.#config.peers.get(change.publicKey.hex);
          const entry = added.get(change.publicKey.hex);
          if (!peer || !entry) break;
          this.#peersByHex.set(entry.hex, entry);
          this.#peersById.set(entry.id, entry);
          outputs.push(
            ...this.#core.upsertPeer(entry.key, {
              presharedKey: peer.presharedKey === null ? null : peer.presharedKey.bytes(),
              persistentKeepalive: peer.persistentKeepalive,
            }),
          );
          break;
        }
        case 'peer-updated': {
          const peer = this.#config.peers.get(change.publicKey.hex);
          const entry = this.#peersByHex.get(change.publicKey.hex);
          if (!peer || !entry) break;
          const fields = new Set(change.fields);
          if (fields.has('presharedKey') || fields.has('persistentKeepalive')) {
            outputs.push(
              ...this.#core.upsertPeer(entry.key, {
                ...(fields.has('presharedKey')
                  ? { presharedKey: peer.presharedKey === null ? null : peer.presharedKey.bytes() }
                  : {}),
                ...(fields.has('persistentKeepalive') ? { persistentKeepalive: peer.persistentKeepalive } : {}),
              }),
            );
          }
          break;
        }
        case 'keepalive-enabled':
          // upsertPeer already returned the immediate keepalive (or a handshake) for this edge.
          break;
      }
    }
    this.#applyOutputs(outputs);
  }

  #forgetPeer(entry: PeerEntry): void {
    this.#dataplane.removePeer(entry.id);
    this.#peersByHex.delete(entry.hex);
    this.#peersById.delete(entry.id);
    this.#wants.delete(entry.id);
    this.#confirmed.delete(entry.id);
  }

  #onHandshakeMessages(messages: readonly HandshakeMessage[]): void {
    if (this.#closed) return;
    const now = monotonicMs();
    if (messages.length >= UNDER_LOAD_BATCH) this.#underLoadUntil = now + UNDER_LOAD_HOLD_MS;
    const underLoad = now < this.#underLoadUntil;
    for (const message of messages) {
      const outputs = this.#core.receiveHandshake(message.bytes, message.from, underLoad);
      // An authenticated handshake names its peer (the `endpoint` output): count its bytes as received.
      for (const o of outputs) {
        if (o.kind === 'endpoint') {
          const entry = this.#peersByHex.get(Buffer.from(o.peer).toString('hex'));
          if (entry) this.#dataplane.creditRx(entry.id, message.bytes.length);
        }
      }
      this.#applyOutputs(outputs, message.local);
    }
  }

  #scheduleTick(): void {
    if (this.#tickScheduled || this.#closed) return;
    this.#tickScheduled = true;
    setImmediate(() => {
      this.#tickScheduled = false;
      this.#tick();
    });
  }

  #tick(): void {
    if (this.#closed) return;
    const activity: PeerActivity[] = [];
    const reported = new Set<number>();
    // Only peers whose counters or times moved since the last tick: an idle device reads nothing.
    for (const s of this.#dataplane.changedPeerStats()) {
      const entry = this.#peersById.get(s.peerId);
      if (!entry) continue;
      reported.add(s.peerId);
      activity.push({
        publicKey: entry.key,
        lastDataSentAt: nullIfNever(s.lastDataSentMs),
        lastDataReceivedAt: nullIfNever(s.lastDataReceivedMs),
        lastAuthenticatedSentAt: nullIfNever(s.lastAuthenticatedSentMs),
        lastAuthenticatedReceivedAt: nullIfNever(s.lastAuthenticatedReceivedMs),
        sendCounter: s.sendCounter,
        wantsHandshake: this.#wants.has(s.peerId),
        confirmedNextKeypair: this.#confirmed.has(s.peerId),
      });
    }
    // An edge (wants a handshake, next keypair confirmed) of a peer whose stats did not move:
    // its times are the ones already absorbed, so it is reported with none (and no counter).
    for (const id of new Set([...this.#wants, ...this.#confirmed])) {
      const entry = this.#peersById.get(id);
      if (!entry || reported.has(id)) continue;
      activity.push({
        publicKey: entry.key,
        lastDataSentAt: null,
        lastDataReceivedAt: null,
        lastAuthenticatedSentAt: null,
        lastAuthenticatedReceivedAt: null,
        wantsHandshake: this.#wants.has(id),
        confirmedNextKeypair: this.#confirmed.has(id),
      });
    }
    this.#wants.clear();
    this.#confirmed.clear();
    this.#applyOutputs(this.#core.tick(activity));
  }

  /**
   * Follows the link through the TUN fd, not by name: the link may have been moved to another
   * namespace (or renamed) since it was opened, and it is gone only when the fd says so.
   */
  #checkLink(readLink: boolean): void {
    if (this.#closed) return;
    // The TUN fd pins the namespace it was opened in: a named namespace deleted (`ip netns del`,
    // wgd's NRs) would otherwise live on with the link in it. Its path going is the device's end.
    if (this.#namespaceDeleted()) {
      this.#gone(`the namespace ${this.#options.tunNetns} of interface ${this.name} was deleted`);
      return;
    }
    if (!readLink) return;
    let mtu: number | null;
    try {
      mtu = this.#dataplane.refreshMtu();
    } catch (error) {
      this.#options.log?.(`cannot read the MTU of ${this.name}: ${(error as Error).message}`);
      return;
    }
    if (mtu === null) this.#gone(`interface ${this.name} was deleted`);
  }

  /** The TUN was opened in a namespace given by path, and that path is gone (the namespace deleted). */
  #namespaceDeleted(): boolean {
    return this.#options.tunNetns !== null && !existsSync(this.#options.tunNetns);
  }

  #gone(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.#options.onGone?.(reason);
  }

  /**
   * Keeps a timer for the core's earliest deadline (a lower bound: a tick before anything is due
   * costs one comparison). Called after every call into the core, which is what moves it.
   */
  #armDue(): void {
    if (this.#closed) return;
    const due = this.#core.nextDueAt;
    if (due === this.#dueTimerAt) return;
    if (this.#dueTimer) clearTimeout(this.#dueTimer);
    this.#dueTimer = null;
    this.#dueTimerAt = due;
    if (!Number.isFinite(due)) return;
    // +1: the timer's clock and the core's may round apart; never fire before the deadline. A
    // deadline already past (e.g. a keypair's counter ran out) is met within OVERDUE_TICK_MS, as
    // the former fixed tick did, and never in a loop of 1 ms timers, whatever the core says.
    const wait = due - monotonicMs();
    this.#dueTimer = setTimeout(
      () => {
        this.#dueTimer = null;
        this.#dueTimerAt = Infinity;
        this.#tick();
      },
      wait > 0 ? wait + 1 : OVERDUE_TICK_MS,
    );
  }

  /** source: the local address the handshake message that produced the outputs arrived on. */
  #applyOutputs(outputs: readonly Output[], source: LocalSource | null = null): void {
    this.#armDue();
    for (const o of outputs) {
      if (o.kind === 'sendTo') {
        this.#dataplane.sendRawTo(o.endpoint, o.bytes, source);
        continue;
      }
      const entry = this.#peersByHex.get(Buffer.from(o.peer).toString('hex'));
      if (!entry) continue;
      switch (o.kind) {
        case 'send':
          this.#dataplane.sendRaw(entry.id, o.bytes);
          break;
        case 'endpoint':
          // Its handshake arrived on `source`: the response and what follows leave from there.
          this.#dataplane.setPeer(entry.id, { endpoint: o.endpoint, source });
          break;
        case 'installKeypair':
          this.#dataplane.installKeypair(entry.id, o.keypair);
          break;
        case 'removeKeypair':
          try {
            this.#dataplane.removeKeypair(entry.id, o.localIndex);
          } catch (error) {
            // The data plane may have dropped it already (promotion pushes out the old previous).
            if (!(error instanceof DataplaneError && error.code === 'UNKNOWN_KEYPAIR')) throw error;
          }
          break;
        case 'expireKeypairs':
          this.#dataplane.expireKeypairs(entry.id);
          break;
        case 'sendKeepalive':
          this.#dataplane.sendKeepalive(entry.id);
          break;
        case 'dropQueued':
          this.#dataplane.dropQueued(entry.id);
          break;
        case 'handshakeComplete':
          this.#options.log?.(`handshake completed with peer ${entry.hex.slice(0, 8)}…`);
          break;
        case 'peerRemoved':
          this.#forgetPeer(entry);
          break;
      }
    }
  }
}
