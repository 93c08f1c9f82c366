// Host-side tests of KernelWgBackend's difference (src/nr/wireguard/kernel/backend.ts configurationDiff):
// what configure sends given what the kernel reports. Pure: no kernel needed.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { PrivateKey, ready } from '../../../../src/netdef/index.js';
import { configurationDiff, type KernelDevice } from '../../../../src/nr/wireguard/kernel/index.js';
import type { WgDesiredConfig } from '../../../../src/nr/wireguard/backend.js';

test.before(async () => {
  await ready();
});

const key = (): string => randomBytes(32).toString('base64');

function setup(): { desired: WgDesiredConfig; current: KernelDevice; peers: string[] } {
  const priv = PrivateKey.fromBytes(randomBytes(32));
  const peers = [key(), key()];
  const desired: WgDesiredConfig = {
    privateKey: priv,
    publicKey: priv.publicKey(),
    listenPort: 51820,
    peers: [
      {
        publicKey: peers[0]!,
        endpoint: '192.0.2.1:51820',
        allowedIps: ['10.1.1.0/24', '100.64.1.1/32'],
        persistentKeepalive: 0,
      },
      { publicKey: peers[1]!, endpoint: null, allowedIps: ['10.1.2.0/24'], persistentKeepalive: 25 },
    ],
  };
  const current: KernelDevice = {
    ifname: 'w-x',
    ifindex: 3,
    privateKey: priv,
    publicKey: priv.publicKey(),
    listenPort: 51820,
    fwmark: 0,
    peers: [
      {
        publicKey: peers[0]!,
        presharedKey: null,
        endpoint: '192.0.2.1:51820',
        persistentKeepalive: 0,
        lastHandshake: 5,
        rxBytes: 1,
        txBytes: 1,
        protocolVersion: 1,
        allowedIps: ['100.64.1.1/32', '10.1.1.0/24'],
      },
      {
        publicKey: peers[1]!,
        presharedKey: null,
        endpoint: '198.51.100.9:4000',
        persistentKeepalive: 25,
        lastHandshake: null,
        rxBytes: 0,
        txBytes: 0,
        protocolVersion: 1,
        allowedIps: ['10.1.2.0/24'],
      },
    ],
  };
  return { desired, current, peers };
}

test('a device already as desired needs no change (allowed-IP order and a roamed endpoint of a dial-in peer do not count)', (t) => {
  const { desired, current } = setup();
  t.is(configurationDiff(current, desired).changes, 0);
});

test('only the peers that differ are sent, removed peers first, existing ones update-only', (t) => {
  const { desired, current, peers } = setup();
  const stranger = key();
  const fresh = key();
  const cur: KernelDevice = {
    ...current,
    peers: [...current.peers, { ...current.peers[0]!, publicKey: stranger }],
  };
  const want: WgDesiredConfig = {
    ...desired,
    peers: [
      { ...desired.peers[0]!, allowedIps: ['10.1.1.0/24'] },
      desired.peers[1]!,
      { publicKey: fresh, endpoint: '192.0.2.3:1', allowedIps: ['10.1.3.0/24'], persistentKeepalive: 0 },
    ],
  };
  const { set, changes } = configurationDiff(cur, want);
  t.is(changes, 3);
  t.deepEqual(set.peers, [
    { publicKey: stranger, remove: true },
    { publicKey: peers[0]!, updateOnly: true, replaceAllowedIps: true, allowedIps: ['10.1.1.0/24'] },
    {
      publicKey: fresh,
      endpoint: '192.0.2.3:1',
      persistentKeepalive: 0,
      replaceAllowedIps: true,
      allowedIps: ['10.1.3.0/24'],
    },
  ]);
  t.is(set.privateKey, undefined);
  t.is(set.listenPort, undefined);
});

test("a new private key or listen port is sent; listen port 0 leaves the kernel's choice alone", (t) => {
  const { desired, current } = setup();
  const other = PrivateKey.fromBytes(randomBytes(32));
  const r = configurationDiff(current, {
    ...desired,
    privateKey: other,
    publicKey: other.publicKey(),
    listenPort: 40000,
  });
  t.is(r.set.privateKey, other);
  t.is(r.set.listenPort, 40000);
  t.is(configurationDiff(current, { ...desired, listenPort: 0 }).changes, 0);
});
