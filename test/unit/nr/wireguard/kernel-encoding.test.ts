// Host-side tests of kernel WireGuard's netlink encoding (native/wgk_message.c through the
// addon's test-only entry points): the exact attribute layout of SET_DEVICE, its split into
// ≤ 8 KiB messages by wg(8)'s rules, the reassembly of peers split across dump messages, and
// the refusal of bad input before anything is sent. No WireGuard kernel needed.
import test from 'ava';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { PresharedKey, PrivateKey } from '../../../../src/netdef/index.js';
import { decodeDeviceMessages, setDevice, toRawDeviceSet } from '../../../../src/nr/wireguard/kernel/device.js';
import type { KernelDeviceSet, KernelPeerSet } from '../../../../src/nr/wireguard/kernel/types.js';
import { KernelWgError } from '../../../../src/nr/wireguard/kernel/errors.js';
import { kernelWgNative } from '../../../../src/nr/wireguard/kernel/native.js';
import {
  NLM_F_ACK,
  NLM_F_REQUEST,
  WGALLOWEDIP_A,
  WGDEVICE_A,
  WGPEER_A,
  WG_CMD_SET_DEVICE,
  attrs,
  message,
  one,
  type Message,
} from './kernel-netlink.js';

const FAMILY_ID = 0x1d; // any id: the encoder only copies it into nlmsg_type
const MAX = 8192;

function key(): string {
  return randomBytes(32).toString('base64');
}

function encode(config: KernelDeviceSet, max = MAX, ifname = 'wg0'): Buffer[] {
  const secrets: Uint8Array[] = [];
  return kernelWgNative().wgEncodeSetDevice(toRawDeviceSet(ifname, config, secrets), FAMILY_ID, max);
}

/** Peer i's allowed IPs: `count` distinct /32s (v4) or /128s (v6). */
function allowedIpsFor(i: number, count: number, v6 = false): string[] {
  return Array.from({ length: count }, (_, j) =>
    v6 ? `fd00:1:${(i + 1).toString(16)}:${(j + 1).toString(16)}::1/128` : `10.${(i >> 8) & 255}.${i & 255}.${j}/32`,
  );
}

function u16(a: { data: Buffer } | undefined): number | undefined {
  return a ? a.data.readUInt16LE(0) : undefined;
}
function u32(a: { data: Buffer } | undefined): number | undefined {
  return a ? a.data.readUInt32LE(0) : undefined;
}

/** Checks wg(8)'s split rules over a whole request and returns the peer fragments in order. */
function checkSplit(
  t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void; fail(m?: string): void },
  messages: Buffer[],
  ifname: string,
  max: number,
): Array<{ key: string; first: boolean; allowedIps: number; attrs: number[] }> {
  const fragments: Array<{ key: string; first: boolean; allowedIps: number; attrs: number[] }> = [];
  let previousKey: string | null = null;
  let previousContinues = false;
  messages.forEach((buf, m) => {
    t.true(buf.length <= max, `message ${m} is ${buf.length} bytes`);
    const msg: Message = message(buf);
    t.is(msg.type, FAMILY_ID);
    t.is(msg.flags, NLM_F_REQUEST | NLM_F_ACK);
    t.is(msg.cmd, WG_CMD_SET_DEVICE);
    t.is(msg.version, 1);
    t.is(one(msg.attrs, WGDEVICE_A.IFNAME)?.data.toString('latin1'), `${ifname}\0`, `message ${m} names the device`);
    const deviceAttrs = msg.attrs
      .filter((a) => a.type !== WGDEVICE_A.IFNAME && a.type !== WGDEVICE_A.PEERS)
      .map((a) => a.type);
    if (m > 0) t.is(deviceAttrs.length, 0, `message ${m} carries no device attribute or REPLACE_PEERS`);
    const peers = one(msg.attrs, WGDEVICE_A.PEERS);
    if (!peers) return;
    t.true(peers.nested, 'PEERS is marked nested');
    attrs(peers.data).forEach((peer, p) => {
      const pa = attrs(peer.data);
      const pk = one(pa, WGPEER_A.PUBLIC_KEY);
      if (!pk) return t.fail(`message ${m} peer ${p} has no PUBLIC_KEY`);
      const keyText = pk.data.toString('base64');
      // A peer continued from the previous message: the first peer of this one, same key.
      const continuation = p === 0 && previousContinues && keyText === previousKey;
      const aips = one(pa, WGPEER_A.ALLOWEDIPS);
      const others = pa.map((a) => a.type).filter((ty) => ty !== WGPEER_A.PUBLIC_KEY && ty !== WGPEER_A.ALLOWEDIPS);
      if (continuation) t.is(others.length, 0, `continued peer in message ${m} carries only PUBLIC_KEY and ALLOWEDIPS`);
      const count = aips ? attrs(aips.data).length : 0;
      fragments.push({ key: keyText, first: !continuation, allowedIps: count, attrs: others });
      previousKey = keyText;
    });
    // Does the last peer of this message go on in the next one?
    const next = messages[m + 1];
    previousContinues = false;
    if (next && previousKey !== null) {
      const nextPeers = one(message(next).attrs, WGDEVICE_A.PEERS);
      const firstNext = nextPeers ? attrs(nextPeers.data)[0] : undefined;
      const nextKey = firstNext ? one(attrs(firstNext.data), WGPEER_A.PUBLIC_KEY)?.data.toString('base64') : undefined;
      previousContinues = nextKey === previousKey;
    }
  });
  return fragments;
}

test('a small SET_DEVICE is one message laid out attribute by attribute as the family expects', (t) => {
  const priv = PrivateKey.fromBytes(randomBytes(32));
  const psk = PresharedKey.fromBytes(randomBytes(32));
  const pk1 = key();
  const pk2 = key();
  const [buf, ...rest] = encode({
    privateKey: priv,
    listenPort: 51820,
    fwmark: 0x42,
    replacePeers: true,
    peers: [
      {
        publicKey: pk1,
        presharedKey: psk,
        endpoint: '192.0.2.7:51000',
        persistentKeepalive: 25,
        replaceAllowedIps: true,
        allowedIps: ['10.1.2.0/24', 'fd00::/64'],
      },
      { publicKey: pk2, endpoint: '[2001:db8::1]:443', updateOnly: true },
      { publicKey: key(), remove: true, allowedIps: ['10.9.9.9/32'] },
    ],
  });
  t.is(rest.length, 0);
  const msg = message(buf!);
  t.deepEqual(
    msg.attrs.map((a) => a.type),
    [
      WGDEVICE_A.IFNAME,
      WGDEVICE_A.PRIVATE_KEY,
      WGDEVICE_A.LISTEN_PORT,
      WGDEVICE_A.FWMARK,
      WGDEVICE_A.FLAGS,
      WGDEVICE_A.PEERS,
    ],
  );
  t.deepEqual(one(msg.attrs, WGDEVICE_A.PRIVATE_KEY)?.data, Buffer.from(priv.bytes()));
  t.is(u16(one(msg.attrs, WGDEVICE_A.LISTEN_PORT)), 51820);
  t.is(u32(one(msg.attrs, WGDEVICE_A.FWMARK)), 0x42);
  t.is(u32(one(msg.attrs, WGDEVICE_A.FLAGS)), 1, 'REPLACE_PEERS');
  const peers = attrs(one(msg.attrs, WGDEVICE_A.PEERS)!.data);
  t.is(peers.length, 3);
  t.true(peers.every((p) => p.nested));

  const p1 = attrs(peers[0]!.data);
  t.deepEqual(
    p1.map((a) => a.type),
    [
      WGPEER_A.PUBLIC_KEY,
      WGPEER_A.FLAGS,
      WGPEER_A.PRESHARED_KEY,
      WGPEER_A.ENDPOINT,
      WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL,
      WGPEER_A.ALLOWEDIPS,
    ],
  );
  t.is(one(p1, WGPEER_A.PUBLIC_KEY)?.data.toString('base64'), pk1);
  t.is(u32(one(p1, WGPEER_A.FLAGS)), 2, 'REPLACE_ALLOWEDIPS');
  t.deepEqual(one(p1, WGPEER_A.PRESHARED_KEY)?.data, Buffer.from(psk.bytes()));
  const ep = one(p1, WGPEER_A.ENDPOINT)!.data;
  t.is(ep.length, 16, 'sockaddr_in');
  t.is(ep.readUInt16LE(0), 2, 'AF_INET');
  t.is(ep.readUInt16BE(2), 51000, 'port in network order');
  t.deepEqual([...ep.subarray(4, 8)], [192, 0, 2, 7]);
  t.is(u16(one(p1, WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL)), 25);
  const aips = attrs(one(p1, WGPEER_A.ALLOWEDIPS)!.data).map((a) => attrs(a.data));
  t.deepEqual(
    aips.map((a) => a.map((x) => x.type)),
    [
      [WGALLOWEDIP_A.FAMILY, WGALLOWEDIP_A.IPADDR, WGALLOWEDIP_A.CIDR_MASK],
      [WGALLOWEDIP_A.FAMILY, WGALLOWEDIP_A.IPADDR, WGALLOWEDIP_A.CIDR_MASK],
    ],
  );
  t.is(u16(one(aips[0]!, WGALLOWEDIP_A.FAMILY)), 2);
  t.deepEqual([...one(aips[0]!, WGALLOWEDIP_A.IPADDR)!.data], [10, 1, 2, 0]);
  t.is(one(aips[0]!, WGALLOWEDIP_A.CIDR_MASK)!.data[0], 24);
  t.is(u16(one(aips[1]!, WGALLOWEDIP_A.FAMILY)), 10, 'AF_INET6');
  t.is(one(aips[1]!, WGALLOWEDIP_A.IPADDR)!.data.length, 16);
  t.is(one(aips[1]!, WGALLOWEDIP_A.CIDR_MASK)!.data[0], 64);

  const p2 = attrs(peers[1]!.data);
  t.is(u32(one(p2, WGPEER_A.FLAGS)), 4, 'UPDATE_ONLY');
  const ep6 = one(p2, WGPEER_A.ENDPOINT)!.data;
  t.is(ep6.length, 28, 'sockaddr_in6');
  t.is(ep6.readUInt16LE(0), 10);
  t.is(ep6.readUInt16BE(2), 443);
  t.is(ep6.subarray(8, 24).toString('hex'), '20010db8000000000000000000000001');

  const p3 = attrs(peers[2]!.data);
  t.deepEqual(
    p3.map((a) => a.type),
    [WGPEER_A.PUBLIC_KEY, WGPEER_A.FLAGS],
    'a removed peer carries only its key and REMOVE_ME',
  );
  t.is(u32(one(p3, WGPEER_A.FLAGS)), 1);
});

test('a null private or preshared key is sent as 32 zero bytes (the family\'s "remove")', (t) => {
  const msg = message(encode({ privateKey: null, peers: [{ publicKey: key(), presharedKey: null }] })[0]!);
  t.deepEqual(one(msg.attrs, WGDEVICE_A.PRIVATE_KEY)?.data, Buffer.alloc(32));
  const peer = attrs(attrs(one(msg.attrs, WGDEVICE_A.PEERS)!.data)[0]!.data);
  t.deepEqual(one(peer, WGPEER_A.PRESHARED_KEY)?.data, Buffer.alloc(32));
});

test("2,000 peers with 4 allowed IPs each split into ≤ 8 KiB messages by wg(8)'s rules and decode back exactly", (t) => {
  const peers: KernelPeerSet[] = Array.from({ length: 2000 }, (_, i) => ({
    publicKey: key(),
    endpoint: `198.51.100.${i % 250}:${10000 + i}`,
    persistentKeepalive: i % 30,
    allowedIps: allowedIpsFor(i, 4),
  }));
  const messages = encode({
    privateKey: PrivateKey.fromBytes(randomBytes(32)),
    listenPort: 1234,
    replacePeers: true,
    peers,
  });
  t.true(messages.length > 1, `${messages.length} messages`);
  t.is(u32(one(message(messages[0]!).attrs, WGDEVICE_A.FLAGS)), 1, 'REPLACE_PEERS in the first message');
  const fragments = checkSplit(t, messages, 'wg0', MAX);
  // Every peer's first fragment carries its endpoint; the fragments add up to 4 allowed IPs each.
  const firsts = fragments.filter((f) => f.first);
  t.deepEqual(
    firsts.map((f) => f.key),
    peers.map((p) => p.publicKey),
  );
  const total = new Map<string, number>();
  for (const f of fragments) total.set(f.key, (total.get(f.key) ?? 0) + f.allowedIps);
  t.true([...total.values()].every((n) => n === 4));
  t.true(firsts.every((f) => f.attrs.includes(WGPEER_A.ENDPOINT)));
  // Messages are filled: all but the last are more than half the limit.
  t.true(messages.slice(0, -1).every((m) => m.length > MAX / 2));

  const decoded = decodeDeviceMessages(messages);
  t.is(decoded.peers.length, 2000);
  decoded.peers.forEach((p, i) => {
    if (
      p.publicKey !== peers[i]!.publicKey ||
      p.endpoint !== peers[i]!.endpoint ||
      p.persistentKeepalive !== peers[i]!.persistentKeepalive
    ) {
      t.fail(`peer ${i} differs after decoding`);
    }
    if (p.allowedIps.join() !== peers[i]!.allowedIps!.join()) t.fail(`peer ${i} allowed IPs differ`);
  });
  t.is(decoded.listenPort, 1234);
});

test('1 peer with 20,000 allowed IPs is continued over many messages repeating only its public key, and decodes as one peer', (t) => {
  const publicKey = key();
  const allowedIps = allowedIpsFor(7, 20000, true);
  const messages = encode({
    peers: [{ publicKey, endpoint: '203.0.113.5:51820', persistentKeepalive: 21, replaceAllowedIps: true, allowedIps }],
  });
  t.true(messages.length >= 20, `${messages.length} messages`);
  const fragments = checkSplit(t, messages, 'wg0', MAX);
  t.is(fragments.length, messages.length, 'one fragment of the peer per message');
  t.true(fragments.every((f) => f.key === publicKey));
  t.deepEqual(
    fragments[0]!.attrs,
    [WGPEER_A.FLAGS, WGPEER_A.ENDPOINT, WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL],
    'flags (REPLACE_ALLOWEDIPS), endpoint and keepalive only in the first fragment',
  );
  t.true(fragments.slice(1).every((f) => !f.first && f.attrs.length === 0));
  t.is(
    fragments.reduce((n, f) => n + f.allowedIps, 0),
    20000,
  );

  const decoded = decodeDeviceMessages(messages);
  t.is(decoded.peers.length, 1);
  t.deepEqual(decoded.peers[0]!.allowedIps, allowedIps);
  t.is(decoded.peers[0]!.endpoint, '203.0.113.5:51820');
});

test('an update-only peer keeps UPDATE_ONLY on its continuations, so they cannot create the peer it declined to create', (t) => {
  const publicKey = key();
  const messages = encode({ peers: [{ publicKey, updateOnly: true, allowedIps: allowedIpsFor(1, 2000, true) }] });
  t.true(messages.length > 1);
  for (const buf of messages.slice(1)) {
    const peer = attrs(attrs(one(message(buf).attrs, WGDEVICE_A.PEERS)!.data)[0]!.data);
    t.deepEqual(
      peer.map((a) => a.type),
      [WGPEER_A.PUBLIC_KEY, WGPEER_A.FLAGS, WGPEER_A.ALLOWEDIPS],
    );
    t.is(u32(one(peer, WGPEER_A.FLAGS)), 4);
  }
});

test('any mix of peers and allowed IPs splits within any message size and decodes to the same configuration', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ ips: fc.nat(40), v6: fc.boolean(), endpoint: fc.boolean() }), { maxLength: 30 }),
      fc.integer({ min: 200, max: 3000 }),
      (shape, max) => {
        const peers: KernelPeerSet[] = shape.map((s, i) => ({
          publicKey: key(),
          ...(s.endpoint ? { endpoint: `192.0.2.${i}:${i + 1}` } : {}),
          allowedIps: allowedIpsFor(i, s.ips, s.v6),
        }));
        const messages = encode({ listenPort: 7, peers }, max);
        checkSplit(t, messages, 'wg0', max);
        const decoded = decodeDeviceMessages(messages);
        return (
          decoded.listenPort === 7 &&
          decoded.peers.length === peers.length &&
          decoded.peers.every(
            (p, i) => p.publicKey === peers[i]!.publicKey && p.allowedIps.join() === peers[i]!.allowedIps!.join(),
          )
        );
      },
    ),
    { numRuns: 150 },
  );
});

test("a message size too small for one peer's first attributes is refused rather than looping", (t) => {
  const error = t.throws(() =>
    encode({ peers: [{ publicKey: key(), endpoint: '[2001:db8::1]:1', allowedIps: ['10.0.0.0/8'] }] }, 80),
  );
  t.is((error as KernelWgError & { code: string }).code, 'EMSGSIZE');
});

test('bad input is refused naming the field and the reason, never echoing a key, before anything is sent', (t) => {
  const secretLooking = randomBytes(31).toString('base64'); // 31 bytes: not a key
  const cases: Array<[KernelDeviceSet, string, RegExp]> = [
    [{ peers: [{ publicKey: secretLooking }] }, 'peers[0].publicKey', /malformed key/],
    [{ peers: [{ publicKey: key() }, { publicKey: 'not base64 at all!' }] }, 'peers[1].publicKey', /malformed key/],
    [
      { peers: [{ publicKey: key(), allowedIps: ['10.0.0.0/8', '10.0.0.1/33'] }] },
      'peers[0].allowedIps[1]',
      /prefix length must be 0..32/,
    ],
    [
      { peers: [{ publicKey: key(), allowedIps: ['fd00::/129'] }] },
      'peers[0].allowedIps[0]',
      /prefix length must be 0..128/,
    ],
    [
      { peers: [{ publicKey: key(), allowedIps: ['host.example/24'] }] },
      'peers[0].allowedIps[0]',
      /not a numeric IP address/,
    ],
    [{ peers: [{ publicKey: key(), endpoint: '192.0.2.1' }] }, 'peers[0].endpoint', /IPv4:port/],
    [{ peers: [{ publicKey: key(), endpoint: '192.0.2.1:70000' }] }, 'peers[0].endpoint', /port must be 0..65535/],
    [
      { peers: [{ publicKey: key(), endpoint: '[2001:db8::1%eth0]:1' }] },
      'peers[0].endpoint',
      /not a numeric IP address/,
    ],
    [{ peers: [{ publicKey: key(), persistentKeepalive: 70000 }] }, 'peers[0].persistentKeepalive', /0..65535/],
    [{ listenPort: -1 }, 'listenPort', /0..65535/],
    [{ listenPort: 1.5 }, 'listenPort', /integer/],
  ];
  for (const [config, field, reason] of cases) {
    // setDevice checks everything before the socket is opened: on this host (no WireGuard) a
    // request that got as far as the kernel would fail with ENOENT instead.
    const error = t.throws(() => setDevice(null, 'wg0', config), { instanceOf: KernelWgError }, field);
    t.is(error?.code, 'EINVAL', field);
    t.true(error?.message.includes(field), `${field}: ${error?.message}`);
    t.regex(error?.message ?? '', reason);
    t.false(error?.message.includes(secretLooking), 'the key is not echoed');
  }
});

test('interface names of 16 bytes or more, empty, or with a slash are refused naming the field', (t) => {
  for (const name of ['wg-sixteen-bytes', '', 'a/b', 'x'.repeat(40)]) {
    const error = t.throws(() => setDevice(null, name, { listenPort: 1 }), { instanceOf: KernelWgError });
    t.is(error?.code, 'EINVAL');
    t.regex(error?.message ?? '', /ifname/);
    t.is(error?.context.field, 'ifname');
  }
});
