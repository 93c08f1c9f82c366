// A two-namespace world for the data-plane tests: namespaces A and B joined
// by a veth (IPv4 192.0.2.0/24 and IPv6 fd00:77::/64 underlay), one data
// plane per namespace (TUN "zdp0" and UDP sockets inside it), inner addresses
// 10.77.0.1 (A) and 10.77.0.2 (B). Self-contained so that it does not follow
// the shared harness while that is still moving; same safety rules: a
// per-run prefix, veths created inside the namespaces, only our own
// processes killed (by PID), everything removed in teardown even on failure.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';

import { native } from '../../src/native/binding.js';
import { Dataplane, type HandshakeMessage, type KeypairConfirmed } from '../../src/wg/dataplane.js';

export const INNER_A = '10.77.0.1';
export const INNER_B = '10.77.0.2';
export const UNDERLAY4 = { a: '192.0.2.1', b: '192.0.2.2' };
export const UNDERLAY6 = { a: 'fd00:77::1', b: 'fd00:77::2' };
export const MTU = 1420;
export const PEER_OF_A = 1; // A's id for B
export const PEER_OF_B = 2; // B's id for A

export interface Side {
  ns: string;
  path: string;
  dp: Dataplane;
  port4: number;
  port6: number;
  handshakes: HandshakeMessage[];
  wants: number[];
  confirmed: KeypairConfirmed[];
  /** Runs a command inside the namespace; rejects on a non-zero exit. */
  exec(cmd: string, args: string[], opts?: { timeout?: number; input?: string }): Promise<string>;
  /** Packets the data plane wrote into the TUN (the TUN's RX counter). */
  tunRxPackets(): Promise<number>;
}

export interface World {
  a: Side;
  b: Side;
  /** A process inside a namespace, killed (by PID) at teardown if still running. */
  spawn(ns: string, cmd: string, args: string[]): ResultPromise;
}

async function ip(args: string[]): Promise<void> {
  await execa('ip', args, { timeout: 10_000 });
}

/** Polls until predicate is truthy (for kernel state and counters, where no event exists). */
// Deadlines are generous: CI is one run on 2 loaded cores, and a deadline costs nothing when met.
export async function until<T>(what: string, predicate: () => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

export function keyPair(): { k1: Uint8Array; k2: Uint8Array } {
  return { k1: new Uint8Array(randomBytes(32)), k2: new Uint8Array(randomBytes(32)) };
}

/** Matching keypairs on both sides: A sends with k1 and B receives with it, indices crossed. */
export function installMatching(
  w: World,
  k: { k1: Uint8Array; k2: Uint8Array },
  opts: { aInitiator: boolean; bInitiator: boolean; indexA?: number; indexB?: number },
): void {
  const indexA = opts.indexA ?? 0x0a0a0001;
  const indexB = opts.indexB ?? 0x0b0b0001;
  w.a.dp.installKeypair(PEER_OF_A, {
    localIndex: indexA,
    remoteIndex: indexB,
    sendKey: k.k1,
    receiveKey: k.k2,
    initiator: opts.aInitiator,
  });
  w.b.dp.installKeypair(PEER_OF_B, {
    localIndex: indexB,
    remoteIndex: indexA,
    sendKey: k.k2,
    receiveKey: k.k1,
    initiator: opts.bInitiator,
  });
}

/** Pings `count` times; `waitSeconds` bounds the wait for replies (a staged packet waits for its keypair). */
export async function ping(from: Side, to: string, count = 3, waitSeconds = 2): Promise<boolean> {
  try {
    await from.exec('ping', ['-c', String(count), '-i', '0.05', '-W', String(waitSeconds), '-n', '-q', to], {
      timeout: (waitSeconds + 13) * 1000,
    });
    return true;
  } catch {
    return false;
  }
}

export interface WorldOptions {
  /** Underlay family the peers' endpoints use (default 4). */
  underlay?: 4 | 6;
  /** Configure peers (endpoints + allowed IPs) (default true). */
  peers?: boolean;
}

export async function makeWorld(t: ExecutionContext, opts: WorldOptions = {}): Promise<World> {
  const prefix = 'zdp' + randomBytes(3).toString('hex').slice(0, 5);
  const names = { a: `${prefix}a`, b: `${prefix}b` };
  const children = new Set<ResultPromise>();
  const sides: Side[] = [];
  const created: string[] = [];
  t.teardown(async () => {
    for (const c of children)
      if (c.pid && c.exitCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    for (const s of sides) s.dp.close();
    for (const ns of created) await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  for (const ns of [names.a, names.b]) {
    await ip(['netns', 'add', ns]);
    created.push(ns);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await ip(['link', 'add', 'ua', 'netns', names.a, 'type', 'veth', 'peer', 'name', 'ub', 'netns', names.b]);
  for (const [side, dev] of [
    ['a', 'ua'],
    ['b', 'ub'],
  ] as const) {
    const ns = names[side];
    await ip(['-n', ns, 'addr', 'add', `${UNDERLAY4[side]}/24`, 'dev', dev]);
    await ip(['-n', ns, 'addr', 'add', `${UNDERLAY6[side]}/64`, 'dev', dev, 'nodad']);
    await ip(['-n', ns, 'link', 'set', dev, 'up']);
  }

  const n = native();
  for (const side of ['a', 'b'] as const) {
    const ns = names[side];
    const path = `/run/netns/${ns}`;
    const tun = n.openTun(path, 'zdp0', 0);
    let u4: { fd: number; port: number } | undefined;
    let u6: { fd: number; port: number } | undefined;
    let dp: Dataplane;
    try {
      u4 = n.udpSocketInNetns(path, 4, '0.0.0.0', 0);
      u6 = n.udpSocketInNetns(path, 6, '::', 0);
      const s: Partial<Side> = { handshakes: [], wants: [], confirmed: [] };
      dp = Dataplane.create({
        tunFd: tun.fd,
        udp4Fd: u4.fd,
        udp6Fd: u6.fd,
        mtu: MTU,
        onHandshakeMessages: (m) => s.handshakes!.push(...m),
        onWantsHandshake: (ids) => s.wants!.push(...ids),
        onKeypairConfirmed: (c) => s.confirmed!.push(...c),
      });
      Object.assign(s, {
        ns,
        path,
        dp,
        port4: u4.port,
        port6: u6.port,
        exec: async (cmd: string, args: string[], o: { timeout?: number; input?: string } = {}) =>
          (await execa('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: o.timeout ?? 30_000, input: o.input }))
            .stdout,
        tunRxPackets: async () => {
          const out = (await execa('ip', ['-n', ns, '-j', '-s', 'link', 'show', 'zdp0'])).stdout;
          return Number(JSON.parse(out)[0].stats64.rx.packets);
        },
      });
      sides.push(s as Side);
    } catch (e) {
      n.closeFd(tun.fd);
      if (u4) n.closeFd(u4.fd);
      if (u6) n.closeFd(u6.fd);
      throw e;
    }
    await ip(['-n', ns, 'addr', 'add', `${side === 'a' ? INNER_A : INNER_B}/24`, 'dev', 'zdp0']);
    await ip(['-n', ns, 'link', 'set', 'zdp0', 'mtu', String(MTU), 'up']);
  }
  const [a, b] = sides as [Side, Side];
  if (opts.peers !== false) {
    const six = opts.underlay === 6;
    a.dp.setPeer(PEER_OF_A, {
      endpoint: { address: six ? UNDERLAY6.b : UNDERLAY4.b, port: six ? b.port6 : b.port4 },
      allowedIps: [{ address: INNER_B, prefix: 32 }],
    });
    b.dp.setPeer(PEER_OF_B, {
      endpoint: { address: six ? UNDERLAY6.a : UNDERLAY4.a, port: six ? a.port6 : a.port4 },
      allowedIps: [{ address: INNER_A, prefix: 32 }],
    });
  }
  return {
    a,
    b,
    spawn(ns, cmd, args) {
      const child = execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, timeout: 60_000 });
      children.add(child);
      return child;
    },
  };
}
