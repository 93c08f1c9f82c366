// Unit tests of the kernel layer's pure parts: the IFLA_LINKINFO TLV encoder/decoder, IP address
// parsing/formatting (against Node's own parser as the oracle), KernelError's errno extraction,
// and the input checks that run before anything touches the kernel.
import test from 'ava';
import fc from 'fast-check';
import {
  attribute,
  kindOfLinkInfo,
  linkInfoOfKind,
  parseAttributes,
  vethLinkInfo,
} from '../../../src/nr/kernel/link-info.js';
import {
  formatAddress,
  formatIpPrefix,
  isNetwork,
  parseAddress,
  parseIpPrefix,
} from '../../../src/nr/kernel/ip-address.js';
import { errnoName, KernelError, kernelErrorFrom } from '../../../src/nr/kernel/errors.js';
import { getSysctl, setSysctl, namespacePath } from '../../../src/nr/kernel/index.js';

test('a netlink attribute is length (header included), type, payload, padded to 4 bytes', (t) => {
  const a = attribute(3, Buffer.from('eth0\0'));
  t.deepEqual([...a], [9, 0, 3, 0, 0x65, 0x74, 0x68, 0x30, 0, 0, 0, 0]);
  t.is(a.length % 4, 0);
  t.deepEqual(
    parseAttributes(Buffer.concat([a, attribute(28, Buffer.from([7, 0, 0, 0]))])).map(([type, p]) => [type, [...p]]),
    [
      [3, [0x65, 0x74, 0x68, 0x30, 0]],
      [28, [7, 0, 0, 0]],
    ],
  );
});

test('the veth linkinfo carries kind "veth" and a peer ifinfomsg with IFLA_IFNAME and IFLA_NET_NS_FD', (t) => {
  const info = vethLinkInfo({ name: 'public', netnsFd: 42, mtu: 1420 });
  t.is(kindOfLinkInfo(info), 'veth');
  const top = parseAttributes(info);
  t.deepEqual(
    top.map(([type]) => type),
    [1, 2],
    'IFLA_INFO_KIND then IFLA_INFO_DATA',
  );
  const data = parseAttributes(top[1]![1]);
  t.is(data[0]![0], 1, 'VETH_INFO_PEER');
  const peer = data[0]![1];
  t.deepEqual([...peer.subarray(0, 16)], new Array(16).fill(0), 'an empty ifinfomsg (16 bytes) first');
  const attrs = new Map(parseAttributes(peer.subarray(16)));
  t.is(attrs.get(3)!.toString('utf8'), 'public\0');
  t.is(attrs.get(28)!.readUInt32LE(0), 42);
  t.is(attrs.get(4)!.readUInt32LE(0), 1420);
  t.false(
    parseAttributes(parseAttributes(parseAttributes(vethLinkInfo({ name: 'x' }))[1]![1])[0]![1].subarray(16)).some(
      ([type]) => type === 28,
    ),
    'no fd: same namespace',
  );
});

test('the kind of a linkinfo is read with the NESTED flag masked and a truncated tail ignored', (t) => {
  t.is(kindOfLinkInfo(linkInfoOfKind('bridge')), 'bridge');
  const nested = Buffer.from(attribute(1, Buffer.from('wireguard\0')));
  nested.writeUInt16LE(1 | 0x8000, 2);
  t.is(kindOfLinkInfo(nested), 'wireguard');
  t.is(kindOfLinkInfo(undefined), null);
  t.is(kindOfLinkInfo(Buffer.from([200, 0, 1, 0, 0x61])), null, 'a length beyond the buffer is not read');
  t.is(kindOfLinkInfo(Buffer.concat([attribute(2, Buffer.alloc(4)), attribute(1, Buffer.from('tun\0'))])), 'tun');
});

test('IPv4 and IPv6 addresses round-trip through bytes; IPv6 formats as Node canonicalises it (RFC 5952), an IPv4-mapped one as ::ffff:a.b.c.d like iproute2; zones and leading zeros are refused', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 8 }), (raw, zeros) => {
      const bytes = Buffer.from(raw);
      bytes.fill(0, 4, Math.min(4 + zeros * 2, 16)); // make runs of zero groups likely
      const text = formatAddress(bytes);
      const parsed = parseAddress(text);
      return (
        parsed?.family === 6 &&
        parsed.bytes.equals(bytes) &&
        text === new URL(`http://[${text}]/`).hostname.slice(1, -1)
      );
    }),
  );
  fc.assert(
    fc.property(fc.ipV4(), (text) => {
      const p = parseAddress(text);
      return p?.family === 4 && formatAddress(p.bytes) === text;
    }),
  );
  t.is(formatAddress(parseAddress('fd00:0:0:1::1')!.bytes), 'fd00:0:0:1::1');
  t.is(formatAddress(parseAddress('::ffff:1.2.3.4')!.bytes), '::ffff:1.2.3.4');
  t.is(formatAddress(parseAddress('::ffff:102:304')!.bytes), '::ffff:1.2.3.4');
  for (const bad of ['fe80::1%eth0', '010.0.0.1', '1.2.3.04', '1::2::3', '1:2:3:4:5:6:7:8::', ''])
    t.is(parseAddress(bad), null, bad);
});

test('a CIDR needs an address and a prefix length within the family; isNetwork finds host bits', (t) => {
  t.deepEqual(formatIpPrefix(parseIpPrefix('10.1.2.0/24')!), '10.1.2.0/24');
  for (const bad of [
    '10.1.2.0',
    '10.1.2.0/33',
    '10.1.2.0/',
    '10.1.2.0/024',
    'fd00::/129',
    'x/8',
    '10.1.2.256/24',
    ' 10.0.0.0/8',
  ]) {
    t.is(parseIpPrefix(bad), null, bad);
  }
  t.true(isNetwork(parseIpPrefix('10.1.0.0/16')!));
  t.false(isNetwork(parseIpPrefix('10.1.0.1/16')!));
  t.true(isNetwork(parseIpPrefix('0.0.0.0/0')!));
  t.true(isNetwork(parseIpPrefix('fd00:1::/32')!));
  t.false(isNetwork(parseIpPrefix('fd00:1::1/64')!));
});

test('errnoName reads the netlink package\'s "Request rejected: ECODE" and errno-style codes', (t) => {
  t.is(errnoName(new Error('Request rejected: EEXIST')), 'EEXIST');
  t.is(errnoName(Object.assign(new Error('x'), { code: 'ENOENT' })), 'ENOENT');
  t.is(errnoName(new Error('something else')), 'EUNKNOWN');
  const e = kernelErrorFrom(new Error('Request rejected: ENODEV'), {
    operation: 'set up',
    object: "'x'",
    netns: '/run/netns/a',
  });
  t.true(e instanceof KernelError);
  t.is(e.message, "set up 'x' in network namespace /run/netns/a: no such link (ENODEV)");
  t.is(kernelErrorFrom(e, { operation: 'other', object: '', netns: null }), e, 'a KernelError passes through');
});

test('sysctl keys and namespace names are checked before the kernel is asked', (t) => {
  const missing = '/run/netns/zmesh-unit-no-such-ns';
  const e = t.throws(() => setSysctl(missing, 'kernel.core_pattern', 'x')) as KernelError;
  t.is(e.code, 'EINVAL', 'refused before the (missing) namespace is even opened');
  t.is(e.field, 'key');
  t.regex(e.message, /kernel\.core_pattern/);
  t.is((t.throws(() => getSysctl(missing, 'net.ipv4.ip_forward')) as KernelError).code, 'ENOENT');
  t.is(namespacePath('n-abcdefgh'), '/run/netns/n-abcdefgh');
  for (const bad of ['', '..', 'a/b', 'a b', 'x'.repeat(65)])
    t.is((t.throws(() => namespacePath(bad)) as KernelError).code, 'EINVAL', bad);
});
