// Kernel WireGuard through the native addon, against the real kernel module: run inside the
// guest kernel (scripts/kvm/run npx ava --tap test/kvm/); on a kernel without the generic netlink
// family `wireguard` (this machine's) every test is skipped and says why.
//
// Proves: configuration written by the addon reads back identically with wg(8) and the reverse;
// 2,000 peers × 4 allowed IPs and 1 peer × 20,000 allowed IPs round-trip exactly both ways
// (split SET_DEVICE, split GET_DEVICE dump); a link created through the node's namespace into
// another keeps its UDP socket in the node's namespace and talks to zmesh-wg (handshake, ping);
// KernelWgBackend configures only what differs; bad input fails clearly and changes nothing.
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PresharedKey, PrivateKey, ready } from '../../src/netdef/index.js';
import {
  KernelWgBackend,
  KernelWgError,
  createLink,
  deleteLink,
  getDevice,
  listLinks,
  setDevice,
  wireguardFamilyAvailable,
  type KernelDevice,
  type KernelPeerSet,
} from '../../src/nr/wireguard/kernel/index.js';
import { ping, type Namespace, type World } from '../harness/index.js';
import { worldFor } from '../harness/ava.js';
import { INNER, endpointText, startWg, wgWorld } from '../netns/wg-pair.js';
import { oneFileAtATime } from './one-file-at-a-time.js';

const WG = '/usr/bin/wg';
const available = wireguardFamilyAvailable(null);
const kernelTest = available ? test.serial : test.skip;
if (!available) {
  console.log(
    '# kernel WireGuard tests skipped: this kernel has no generic netlink family "wireguard" (run them with scripts/kvm/run)',
  );
}

let release: (() => void) | undefined;

test.before(async (t) => {
  await ready();
  if (!available) return;
  t.timeout(900_000); // the other guest test file may run first
  release = await oneFileAtATime(840_000);
});

test.after.always(() => {
  release?.();
});

/**
 * Deletes a link when the test ends, before its namespace goes: RTM_DELLINK returns once the
 * device and its peers are gone, whereas a namespace's devices are destroyed later by the kernel
 * (holding the rtnl lock for long under emulation, while the next file already runs).
 */
function deleteAtEnd(t: { teardown(fn: () => void): void }, ns: Namespace, ifname: string): void {
  t.teardown(() => {
    try {
      deleteLink(ifname, ns.path);
    } catch {
      // gone already
    }
  });
}

function publicKey(): string {
  return randomBytes(32).toString('base64');
}

/** A private key with a known public key, computed by wg(8) itself. */
function privateKey(): PrivateKey {
  const bytes = randomBytes(32);
  bytes[0]! &= 248;
  bytes[31] = (bytes[31]! & 127) | 64;
  return PrivateKey.fromBytes(bytes);
}

/** A digest that stands for a secret in comparisons, so a failing assertion never prints a key. */
function digest(text: string | null): string | null {
  return text === null ? null : createHash('sha256').update(text).digest('hex').slice(0, 16);
}

interface Model {
  privateKey: string | null;
  listenPort: number;
  fwmark: number;
  peers: Array<{
    publicKey: string;
    presharedKey: string | null;
    endpoint: string | null;
    keepalive: number;
    allowedIps: string[];
  }>;
}

/** `wg showconf` → the model (keys digested, allowed IPs sorted). */
function parseShowconf(text: string): Model {
  const model: Model = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  let peer: Model['peers'][number] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '[Peer]') {
      peer = { publicKey: '', presharedKey: null, endpoint: null, keepalive: 0, allowedIps: [] };
      model.peers.push(peer);
      continue;
    }
    const m = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, k, v] = m as unknown as [string, string, string];
    if (!peer) {
      if (k === 'PrivateKey') model.privateKey = digest(v);
      if (k === 'ListenPort') model.listenPort = Number(v);
      if (k === 'FwMark') model.fwmark = Number(v);
    } else {
      if (k === 'PublicKey') peer.publicKey = v;
      if (k === 'PresharedKey') peer.presharedKey = digest(v);
      if (k === 'Endpoint') peer.endpoint = v;
      if (k === 'PersistentKeepalive') peer.keepalive = Number(v);
      if (k === 'AllowedIPs') peer.allowedIps.push(...v.split(',').map((s) => s.trim()));
    }
  }
  for (const p of model.peers) p.allowedIps.sort();
  return model;
}

function modelOfDevice(d: KernelDevice): Model {
  return {
    privateKey: d.privateKey ? digest(d.privateKey.revealBase64()) : null,
    listenPort: d.listenPort,
    fwmark: d.fwmark,
    peers: d.peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey ? digest(p.presharedKey.revealBase64()) : null,
      endpoint: p.endpoint,
      keepalive: p.persistentKeepalive,
      allowedIps: [...p.allowedIps].sort(),
    })),
  };
}

/** The wg(8) configuration file of a model's source (real keys), written 0600. */
function writeConf(
  w: World,
  name: string,
  priv: PrivateKey,
  listenPort: number,
  fwmark: number,
  peers: readonly KernelPeerSet[],
): string {
  const lines = ['[Interface]', `PrivateKey = ${priv.revealBase64()}`, `ListenPort = ${listenPort}`];
  if (fwmark) lines.push(`FwMark = ${fwmark}`);
  for (const p of peers) {
    lines.push('', '[Peer]', `PublicKey = ${p.publicKey}`);
    if (p.presharedKey) lines.push(`PresharedKey = ${p.presharedKey.revealBase64()}`);
    if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`);
    if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
    if (p.allowedIps?.length) lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
  }
  const path = join(w.tempDir(), name);
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  return path;
}

function expectedModel(priv: PrivateKey, listenPort: number, fwmark: number, peers: readonly KernelPeerSet[]): Model {
  return {
    privateKey: digest(priv.revealBase64()),
    listenPort,
    fwmark,
    peers: peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey ? digest(p.presharedKey.revealBase64()) : null,
      endpoint: p.endpoint ?? null,
      keepalive: p.persistentKeepalive ?? 0,
      allowedIps: [...(p.allowedIps ?? [])].sort(),
    })),
  };
}

async function wg(ns: Namespace, args: string[]): Promise<string> {
  return (await ns.exec(WG, args, { timeoutMs: 120_000 })).stdout;
}

/** A namespace holding a fresh kernel WireGuard link (created in the namespace itself). */
async function deviceIn(w: World, short: string): Promise<{ ns: Namespace; ifname: string }> {
  const ns = await w.namespace(short);
  const ifname = w.ifname(`k${short}`);
  createLink(ifname, ns.path);
  return { ns, ifname };
}

const smallPeers = (): KernelPeerSet[] => [
  {
    publicKey: publicKey(),
    presharedKey: PresharedKey.fromBytes(randomBytes(32)),
    endpoint: '192.0.2.7:51000',
    persistentKeepalive: 25,
    allowedIps: ['10.1.2.0/24', 'fd00:1::/64'],
  },
  { publicKey: publicKey(), endpoint: '[2001:db8::1]:443', allowedIps: ['10.1.3.0/24'] },
  { publicKey: publicKey(), allowedIps: [] },
];

kernelTest('the probe finds the wireguard family here and in a fresh namespace', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('p');
  t.true(wireguardFamilyAvailable(null));
  t.true(wireguardFamilyAvailable(ns.path));
});

kernelTest(
  'a device configured through the addon reads back identically with wg showconf, and a wg setconf one through the addon',
  async (t) => {
    const w = await worldFor(t);
    const a = await deviceIn(w, 'a');
    const priv = privateKey();
    const peers = smallPeers();
    setDevice(a.ns.path, a.ifname, { privateKey: priv, listenPort: 40001, fwmark: 0x42, replacePeers: true, peers });
    const expected = expectedModel(priv, 40001, 0x42, peers);
    t.deepEqual(parseShowconf(await wg(a.ns, ['showconf', a.ifname])), expected, 'addon → wg showconf');
    const shown = (await wg(a.ns, ['show', a.ifname, 'public-key'])).trim();
    t.is(getDevice(a.ns.path, a.ifname).publicKey, shown, 'the kernel derives the public key the addon reports');

    const b = await deviceIn(w, 'b');
    await wg(b.ns, ['setconf', b.ifname, writeConf(w, 'b.conf', priv, 40002, 0x42, peers)]);
    t.deepEqual(
      modelOfDevice(getDevice(b.ns.path, b.ifname)),
      { ...expected, listenPort: 40002 },
      'wg setconf → addon',
    );
  },
);

kernelTest(
  '2,000 peers with 4 allowed IPs each (a batch parsed in parallel ranges, split into 32 KiB messages) round-trip exactly through split SET_DEVICE and GET_DEVICE messages',
  async (t) => {
    const w = await worldFor(t);
    const priv = privateKey();
    const peers: KernelPeerSet[] = Array.from({ length: 2000 }, (_, i) => ({
      publicKey: publicKey(),
      endpoint: `198.51.100.${(i % 250) + 1}:${10000 + i}`,
      allowedIps: [0, 1, 2, 3].map((j) => `10.${i >> 6}.${((i & 63) << 2) | j}.0/24`),
    }));
    const expected = expectedModel(priv, 40003, 0, peers);
    const a = await deviceIn(w, 'a');
    deleteAtEnd(t, a.ns, a.ifname);
    setDevice(a.ns.path, a.ifname, { privateKey: priv, listenPort: 40003, replacePeers: true, peers });
    const viaWg = parseShowconf(await wg(a.ns, ['showconf', a.ifname]));
    t.is(viaWg.peers.length, 2000);
    t.true(JSON.stringify(viaWg) === JSON.stringify(expected), 'addon → wg showconf identical');
    const b = await deviceIn(w, 'b');
    deleteAtEnd(t, b.ns, b.ifname);
    await wg(b.ns, ['setconf', b.ifname, writeConf(w, 'big.conf', priv, 40003, 0, peers)]);
    const viaAddon = modelOfDevice(getDevice(b.ns.path, b.ifname));
    t.is(viaAddon.peers.length, 2000);
    t.true(JSON.stringify(viaAddon) === JSON.stringify(expected), 'wg setconf → addon identical');
  },
);

kernelTest('1 peer with 20,000 allowed IPs round-trips exactly both ways', async (t) => {
  const w = await worldFor(t);
  const priv = privateKey();
  const peers: KernelPeerSet[] = [
    {
      publicKey: publicKey(),
      endpoint: '203.0.113.5:51820',
      persistentKeepalive: 15,
      allowedIps: Array.from({ length: 20000 }, (_, j) => `fd00:${(j + 1).toString(16)}:1::/64`),
    },
  ];
  const expected = expectedModel(priv, 40004, 0, peers);
  const a = await deviceIn(w, 'a');
  deleteAtEnd(t, a.ns, a.ifname);
  setDevice(a.ns.path, a.ifname, { privateKey: priv, listenPort: 40004, peers });
  t.true(
    JSON.stringify(parseShowconf(await wg(a.ns, ['showconf', a.ifname]))) === JSON.stringify(expected),
    'addon → wg showconf identical',
  );
  const b = await deviceIn(w, 'b');
  deleteAtEnd(t, b.ns, b.ifname);
  await wg(b.ns, ['setconf', b.ifname, writeConf(w, 'wide.conf', priv, 40004, 0, peers)]);
  const got = modelOfDevice(getDevice(b.ns.path, b.ifname));
  t.is(got.peers.length, 1, 'the peer split across dump messages is merged');
  t.is(got.peers[0]?.allowedIps.length, 20000);
  t.true(JSON.stringify(got) === JSON.stringify(expected), 'wg setconf → addon identical');
});

kernelTest(
  'a kernel link created through the node namespace into the NR namespace keeps its UDP socket outside and shakes hands with zmesh-wg',
  async (t) => {
    const w = await wgWorld(t);
    const node = await w.namespace('node');
    const nr = await w.namespace('nr');
    const peerNs = await w.namespace('peer');
    await w.link(node, 'ua', peerNs, 'ub');
    await node.addAddress('ua', '192.0.2.1/24');
    await node.setUp('ua');
    await peerNs.addAddress('ub', '192.0.2.2/24');
    await peerNs.setUp('ub');

    const backend = new KernelWgBackend({
      nodeNetnsPath: node.path,
      netnsPaths: () => [node.path, nr.path, peerNs.path],
    });
    const ifname = w.ifname('wk');
    await backend.ensureDevice(ifname, nr.path, 1420);
    await backend.ensureDevice(ifname, nr.path, 1420); // idempotent
    t.deepEqual(listLinks(nr.path), [ifname], 'the link is in the NR namespace');
    t.deepEqual(listLinks(node.path), [], 'and not in the node namespace');

    const user = await startWg(w, peerNs, 'wu', 'zmesh-wg', { listenPort: 40010, address: `${INNER.b}/24` });
    const priv = privateKey();
    // The desired state, built afresh for each configure (the second one must be a no-op).
    const desired = () => ({
      privateKey: priv,
      publicKey: priv.publicKey(),
      listenPort: 40011,
      peers: [
        {
          publicKey: user.publicKey,
          endpoint: endpointText('192.0.2.2', 40010),
          allowedIps: [`${INNER.b}/32`],
          persistentKeepalive: 0,
        },
      ],
    });
    await backend.configure(ifname, desired());
    await user.setPeer(priv.publicKey(), { endpoint: endpointText('192.0.2.1', 40011), allowedIps: [`${INNER.a}/32`] });
    const udpIn = async (ns: Namespace): Promise<string> =>
      (await ns.exec('ss', ['-ulnH', 'sport = :40011'])).stdout.trim();
    t.not(await udpIn(node), '', 'the UDP socket listens in the node namespace');
    t.is(await udpIn(nr), '', 'and not in the NR namespace');

    await nr.addAddress(ifname, `${INNER.a}/24`);
    const first = await ping(nr, INNER.b, { count: 3, timeoutMs: 30_000 });
    t.true(
      first.received >= 1,
      `ping through the tunnel: ${first.received}/${first.sent} answered ${first.error ?? ''}`,
    );
    const status = await backend.status(ifname);
    t.is(status?.peers.length, 1);
    t.not(status?.peers[0]?.lastHandshake, null, 'a handshake happened');
    t.true((status?.peers[0]?.rxBytes ?? 0) > 0);
    t.is(status?.listenPort, 40011);
    t.is(status?.publicKey, priv.publicKey());

    // The same desired state again changes nothing: the peer (its counters and session) survives.
    // Re-created, its byte counters would restart at 0 and its handshake time would be empty. The
    // handshake time itself may move forward on its own (both ends can initiate, a slow guest
    // retries after REKEY_TIMEOUT), so it is checked for "kept", not "equal".
    const before = status?.peers[0];
    await backend.configure(ifname, desired());
    const after = (await backend.status(ifname))?.peers[0];
    t.true(
      (after?.rxBytes ?? 0) >= (before?.rxBytes ?? 0) && (after?.txBytes ?? 0) >= (before?.txBytes ?? 0),
      `counters kept: rx ${before?.rxBytes}→${after?.rxBytes}, tx ${before?.txBytes}→${after?.txBytes}`,
    );
    t.true(
      after?.lastHandshake != null && before?.lastHandshake != null && after.lastHandshake >= before.lastHandshake,
      `handshake kept: ${before?.lastHandshake} → ${after?.lastHandshake}`,
    );
    t.is(
      (await ping(nr, INNER.b, { count: 1, timeoutMs: 10_000 })).received,
      1,
      'still pinging after the no-op configure',
    );

    t.deepEqual(await backend.listDevices(), [ifname]);
    await backend.removeDevice(ifname);
    t.deepEqual(listLinks(nr.path), []);
    t.is(await backend.status(ifname), null);
  },
);

kernelTest('bad input fails with a clear error and leaves the device unchanged', async (t) => {
  const w = await worldFor(t);
  const a = await deviceIn(w, 'a');
  const priv = privateKey();
  setDevice(a.ns.path, a.ifname, { privateKey: priv, listenPort: 40020, peers: smallPeers() });
  const before = await wg(a.ns, ['showconf', a.ifname]);
  const unchanged = async (what: string): Promise<void> => {
    t.true((await wg(a.ns, ['showconf', a.ifname])) === before, `${what}: device unchanged`);
  };

  const missing = w.ifname('nope');
  const noDevice = t.throws(() => setDevice(a.ns.path, missing, { listenPort: 1 }), { instanceOf: KernelWgError });
  t.is(noDevice?.code, 'ENODEV');
  t.true(noDevice?.message.includes(`'${missing}'`), noDevice?.message);
  t.is(noDevice?.context.stage, 'SET_DEVICE');
  t.is(t.throws(() => getDevice(a.ns.path, missing), { instanceOf: KernelWgError })?.code, 'ENODEV');
  t.is(t.throws(() => deleteLink(missing, a.ns.path), { instanceOf: KernelWgError })?.code, 'ENODEV');

  const badKey = t.throws(
    () => setDevice(a.ns.path, a.ifname, { listenPort: 1, peers: [{ publicKey: publicKey() }, { publicKey: 'AAAA' }] }),
    {
      instanceOf: KernelWgError,
    },
  );
  t.is(badKey?.code, 'EINVAL');
  t.regex(badKey?.message ?? '', /peers\[1\]\.publicKey: malformed key/);
  await unchanged('invalid key');

  const badIp = t.throws(() =>
    setDevice(a.ns.path, a.ifname, {
      listenPort: 2,
      peers: [{ publicKey: publicKey(), allowedIps: ['10.0.0.0/8', '300.1.1.1/32'] }],
    }),
  );
  t.regex(badIp?.message ?? '', /peers\[0\]\.allowedIps\[1\]/);
  await unchanged('invalid allowed IP');

  // A large set is parsed in ranges on both CPUs, and all of it before the first message: a bad
  // value near the end still changes nothing, not even the device attributes of message 1.
  const many: KernelPeerSet[] = Array.from({ length: 3000 }, (_, i) => ({
    publicKey: publicKey(),
    endpoint: `198.51.100.${(i % 250) + 1}:${20000 + i}`,
    allowedIps: [`10.${i >> 8}.${i & 255}.0/24`],
  }));
  many[2998] = { ...many[2998]!, allowedIps: ['10.11.182.0/24', 'fd00::/129'] };
  const lateBadIp = t.throws(
    () => setDevice(a.ns.path, a.ifname, { privateKey: privateKey(), listenPort: 4, replacePeers: true, peers: many }),
    {
      instanceOf: KernelWgError,
    },
  );
  t.is(lateBadIp?.code, 'EINVAL');
  t.is(lateBadIp?.context.field, 'peers[2998].allowedIps[1]');
  t.regex(lateBadIp?.message ?? '', /prefix length must be 0..128/);
  await unchanged('invalid allowed IP at peer 2,998 of 3,000');

  const longName = t.throws(() => setDevice(a.ns.path, 'sixteen-bytes-xx', { listenPort: 3 }), {
    instanceOf: KernelWgError,
  });
  t.is(longName?.code, 'EINVAL');
  t.regex(longName?.message ?? '', /ifname: 'sixteen-bytes-xx' is 16 bytes/);
  t.is(t.throws(() => createLink('sixteen-bytes-xx', a.ns.path), { instanceOf: KernelWgError })?.code, 'EINVAL');
  await unchanged('too-long name');

  const taken = t.throws(() => createLink(a.ifname, a.ns.path), { instanceOf: KernelWgError });
  t.is(taken?.code, 'EEXIST');
  await unchanged('existing link name');
  t.false(before.length === 0);
});
