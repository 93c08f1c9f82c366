/**
 * Remembers the links, IPv4 addresses and routes last read in each namespace, and knows exactly
 * when that memory went stale: every watched namespace has a netlink socket of its own subscribed
 * to the kernel's link, IPv4 address and IPv4 route notifications, and any notification (ours or
 * anyone's) or socket trouble (an overflow loses notifications) voids the memory. Before a memory
 * is trusted, one small request goes over the watch socket: its answer is queued behind every
 * notification of a change made before it, so "no notification by the answer" means "nothing
 * changed since the read" — a no-op reconcile costs one round trip per namespace instead of three
 * dumps (and, for ndmz, a dump of every NR's port per NR).
 *
 * Implicit changes (routes flushed with their link, addresses going with a link) come with a link
 * or address notification, which voids the whole namespace. A watch socket holds its namespace
 * alive, so watches of namespaces that are gone or replaced are closed (`prune`, and on every read).
 *
 * A watch also reads the namespace's nftables generation (for NftCache) over a netfilter socket it
 * keeps: a socket opened and closed per read cost 90 µs, and after a commit its close waited for
 * the commit's cleanup (an RCU grace period) on the JS thread.
 */
import { createNetlink, type NetlinkSocket } from 'netlink';
import { native } from '../native/binding.js';
import { namespaceId, type AddressState, type LinkState, type RouteState } from './kernel/index.js';
import { GETGEN_BODY, GETGEN_TYPE, generationOfAnswer, nftGeneration } from './nft-generation.js';
import type { Rtnl } from './kernel/index.js';

const NETLINK_ROUTE = 0;
const NETLINK_NETFILTER = 12;
// include/uapi/linux/rtnetlink.h: enum rtnetlink_groups
const RTNLGRP_LINK = 1;
const RTNLGRP_IPV4_IFADDR = 5;
const RTNLGRP_IPV4_ROUTE = 7;
const RTM_GETLINK = 18;
const NLM_F_REQUEST = 1;
/** RTM_NEW/DEL LINK, ADDR, ROUTE: what a change in the namespace announces. */
const NOTIFICATIONS: ReadonlySet<number> = new Set([16, 17, 20, 21, 24, 25]);
const LOOPBACK_INDEX = 1;
const BARRIER_TIMEOUT_MS = 2000;
/** Room for a burst of notifications (an apply of many NRs changes ndmz ~10 times per NR). */
const RECEIVE_BUFFER_BYTES = 1 << 20;

/** What inspect reads in a namespace, as the kernel layer returns it. */
export interface NamespaceState {
  readonly links: readonly LinkState[];
  readonly addresses: readonly AddressState[];
  readonly routes: readonly RouteState[];
}

/** Reads a namespace's state: through the watch when one is kept, else straight from the kernel. */
export interface StateReader {
  read(path: string | null, rtnl: () => Rtnl): Promise<NamespaceState>;
}

export async function dumpState(rtnl: Rtnl): Promise<NamespaceState> {
  // One dump at a time: a netlink socket interleaves concurrent dumps' multipart answers.
  const links = await rtnl.listLinks();
  const addresses = await rtnl.listAddresses();
  const routes = await rtnl.listRoutes(4);
  return { links, addresses, routes };
}

export const alwaysDump: StateReader = {
  read: (_path, rtnl) => dumpState(rtnl()),
};

class Watch {
  /** Bumped by every notification; a memory is valid only for the epoch it was read in. */
  epoch = 0;
  broken = false;
  memory: { epoch: number; state: NamespaceState } | null = null;
  readonly #port: number;
  /** Barriers in flight by sequence number. */
  readonly #waiting = new Map<number, () => void>();
  /** The netfilter socket for generation reads, opened on first use; its reads in flight by sequence. */
  #nft: { socket: NetlinkSocket; port: number } | null = null;
  readonly #generations = new Map<number, (generation: number | null) => void>();

  private constructor(
    readonly identity: number,
    private readonly socket: NetlinkSocket,
    private readonly path: string | null,
  ) {
    this.#port = socket.address().port;
    // Requests go out with send(), not request(): the package would take any message with a
    // matching sequence number for the answer, and a notification carries the sequence number
    // of whoever caused it (our own Rtnl sockets count from 1 as well). Our answer is the one
    // addressed to our port.
    socket.on('message', (messages) => {
      for (const m of messages) {
        const done = m.port === this.#port ? this.#waiting.get(m.seq) : undefined;
        if (done) done();
        else if (NOTIFICATIONS.has(m.type)) this.epoch++;
      }
    });
    socket.on('invalid', () => void this.epoch++);
    // An error (ENOBUFS: notifications were lost) or a cut message leaves nothing to trust here.
    socket.on('error', () => this.#break());
    socket.on('truncatedMessage', () => this.#break());
  }

  static open(path: string | null, identity: number): Watch {
    const socket = native().inNetns(path, () => createNetlink(NETLINK_ROUTE));
    try {
      socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
      for (const group of [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE]) socket.addMembership(group);
    } catch (error) {
      socket.close();
      throw error;
    }
    return new Watch(identity, socket, path);
  }

  /** The nftables generation, or null when it cannot be read (the caller then reads tables). */
  generation(): Promise<number | null> {
    const nft = this.#nftSocket();
    if (nft === null) return Promise.resolve(null);
    return new Promise<number | null>((resolve) => {
      const seq = nft.socket.generateSeq();
      const finish = (generation: number | null): void => {
        clearTimeout(timer);
        this.#generations.delete(seq);
        resolve(generation);
      };
      const timer = setTimeout(() => finish(null), BARRIER_TIMEOUT_MS);
      this.#generations.set(seq, finish);
      nft.socket.send(GETGEN_TYPE, [GETGEN_BODY], { flags: NLM_F_REQUEST, seq }, (error) => {
        if (error) finish(null);
      });
    });
  }

  #nftSocket(): { socket: NetlinkSocket; port: number } | null {
    if (this.broken) return null;
    if (this.#nft !== null) return this.#nft;
    let socket: NetlinkSocket;
    try {
      socket = native().inNetns(this.path, () => createNetlink(NETLINK_NETFILTER));
    } catch {
      return null;
    }
    const nft = { socket, port: socket.address().port };
    // Only answers arrive (no group joined); an error answer (type NLMSG_ERROR) reads as null.
    socket.on('message', (messages) => {
      for (const m of messages) if (m.port === nft.port) this.#generations.get(m.seq)?.(generationOfAnswer(m));
    });
    socket.on('error', () => this.#closeNft());
    this.#nft = nft;
    return nft;
  }

  #closeNft(): void {
    const nft = this.#nft;
    this.#nft = null;
    for (const finish of [...this.#generations.values()]) finish(null);
    try {
      nft?.socket.close();
    } catch {
      // Already closed.
    }
  }

  /** Resolves once every notification queued before now has been counted; false if the socket failed. */
  barrier(): Promise<boolean> {
    if (this.broken) return Promise.resolve(false);
    const ifinfomsg = new Uint8Array(16);
    new DataView(ifinfomsg.buffer).setInt32(4, LOOPBACK_INDEX, true);
    return new Promise<boolean>((resolve) => {
      const seq = this.socket.generateSeq();
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.#waiting.delete(seq);
        if (!ok) this.#break();
        resolve(ok && !this.broken);
      };
      const timer = setTimeout(() => finish(false), BARRIER_TIMEOUT_MS);
      this.#waiting.set(seq, () => finish(true));
      // No ACK flag: the answer (or an error, which also says "processed") is the one message.
      this.socket.send(RTM_GETLINK, [ifinfomsg], { flags: NLM_F_REQUEST, seq }, (error) => {
        if (error) finish(false);
      });
    });
  }

  #break(): void {
    this.broken = true;
    for (const done of [...this.#waiting.values()]) done();
  }

  close(): void {
    this.#break();
    this.#closeNft();
    this.memory = null;
    try {
      this.socket.close();
    } catch {
      // Already closed.
    }
  }
}

function identityOf(path: string | null): number | null {
  try {
    return namespaceId(path);
  } catch {
    return null;
  }
}

export class NamespaceWatches implements StateReader {
  readonly #watches = new Map<string, Watch>();

  async read(path: string | null, rtnl: () => Rtnl): Promise<NamespaceState> {
    const watch = this.#watchOf(path);
    if (watch === null) return dumpState(rtnl());
    if ((await watch.barrier()) && watch.memory !== null && watch.memory.epoch === watch.epoch)
      return watch.memory.state;
    // Subscribed before the dump: a change during the dump moves the epoch and voids this read.
    const epoch = watch.epoch;
    const state = await dumpState(rtnl());
    if (!watch.broken) watch.memory = { epoch, state };
    return state;
  }

  /** The namespace's nftables generation, over its watch when one can be kept. */
  generation(path: string | null): Promise<number | null> {
    const watch = this.#watchOf(path);
    return watch === null ? nftGeneration(path) : watch.generation();
  }

  /** The ifindex of `name` in the namespace's remembered state, when the memory is current. */
  rememberedIndex(path: string | null, name: string): number | null {
    const watch = this.#watches.get(path ?? '');
    if (!watch || watch.broken || watch.memory === null || watch.memory.epoch !== watch.epoch) return null;
    if (identityOf(path) !== watch.identity) return null; // the path holds another namespace now
    return watch.memory.state.links.find((l) => l.name === name)?.index ?? null;
  }

  /** The namespace is being deleted (or was made anew): stop holding it. */
  forget(path: string | null): void {
    const key = path ?? '';
    this.#watches.get(key)?.close();
    this.#watches.delete(key);
  }

  /** Closes the watches of namespaces that no longer exist at their path. */
  prune(): void {
    for (const [key, watch] of this.#watches) {
      if (identityOf(key === '' ? null : key) !== watch.identity) this.forget(key === '' ? null : key);
    }
  }

  close(): void {
    for (const watch of this.#watches.values()) watch.close();
    this.#watches.clear();
  }

  /** The live watch of the namespace now at `path` (made on first use), or null when none can be made. */
  #watchOf(path: string | null): Watch | null {
    const key = path ?? '';
    const identity = identityOf(path);
    let watch = this.#watches.get(key);
    if (watch && (watch.broken || watch.identity !== identity)) {
      this.forget(path);
      watch = undefined;
    }
    if (identity === null) return null;
    if (!watch) {
      try {
        watch = Watch.open(path, identity);
      } catch {
        return null; // no watch: the caller reads from the kernel every time, as before
      }
      this.#watches.set(key, watch);
    }
    return watch;
  }
}
