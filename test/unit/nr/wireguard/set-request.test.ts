import test from 'ava';
import { PrivateKey, generateKeyPair, ready } from '../../../../src/netdef/index.js';
import { minimalSetRequest } from '../../../../src/nr/wireguard/userspace/set-request.js';
import type { WgDesiredConfig } from '../../../../src/nr/wireguard/backend.js';
import {
  EMPTY_DEVICE_CONFIG,
  UapiEndpoint,
  type DeviceConfig,
  type SetRequest,
  applySet,
} from '../../../../src/wg/config.js';
import { viewFromConfig } from '../../../../src/wg/uapi/view.js';

const derive = (bytes: Uint8Array): Uint8Array => Buffer.from(PrivateKey.fromBytes(bytes).publicKey(), 'base64');

let desired: WgDesiredConfig;
let peers: string[];

test.before(async () => {
  await ready();
  const self = generateKeyPair();
  peers = [generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey];
  desired = {
    privateKey: self.privateKey,
    publicKey: self.publicKey,
    listenPort: 24001,
    peers: [
      {
        publicKey: peers[0]!,
        endpoint: '198.51.100.11:24000',
        allowedIps: ['10.1.0.0/24', '100.64.1.0/32'],
        persistentKeepalive: 0,
      },
      { publicKey: peers[1]!, endpoint: null, allowedIps: ['10.1.2.0/24', '100.64.1.2/32'], persistentKeepalive: 0 },
      { publicKey: peers[2]!, endpoint: '198.51.100.13:24002', allowedIps: ['0.0.0.0/0'], persistentKeepalive: 25 },
    ],
  };
});

/** The request as the protocol lines' keys (values of secrets left out), to read in assertions. */
function shape(request: SetRequest | null): unknown {
  if (!request) return null;
  return {
    device: request.device.map((op) => (op.kind === 'listen_port' ? `listen_port=${op.port}` : op.kind)),
    peers: request.peers.map((p) => [
      p.publicKey.base64().slice(0, 6),
      ...p.operations.map((op) =>
        op.kind === 'allowed_ip'
          ? `allowed_ip=${op.allowedIp.text}`
          : op.kind === 'endpoint'
            ? `endpoint=${op.endpoint.text}`
            : op.kind === 'persistent_keepalive_interval'
              ? `keepalive=${op.seconds}`
              : op.kind,
      ),
    ]),
  };
}

function applied(config: DeviceConfig, request: SetRequest | null): DeviceConfig {
  return request ? applySet(config, request, derive).config : config;
}

function configured(): DeviceConfig {
  return applied(EMPTY_DEVICE_CONFIG, minimalSetRequest(viewFromConfig(EMPTY_DEVICE_CONFIG), desired));
}

test('a new device gets its key, its port and every peer with endpoint, keepalive and allowed IPs', (t) => {
  const request = minimalSetRequest(viewFromConfig(EMPTY_DEVICE_CONFIG), desired);
  t.deepEqual(shape(request), {
    device: ['private_key', 'listen_port=24001'],
    peers: [
      [
        peers[0]!.slice(0, 6),
        'endpoint=198.51.100.11:24000',
        'replace_allowed_ips',
        'allowed_ip=10.1.0.0/24',
        'allowed_ip=100.64.1.0/32',
      ],
      [peers[1]!.slice(0, 6), 'replace_allowed_ips', 'allowed_ip=10.1.2.0/24', 'allowed_ip=100.64.1.2/32'],
      [
        peers[2]!.slice(0, 6),
        'endpoint=198.51.100.13:24002',
        'keepalive=25',
        'replace_allowed_ips',
        'allowed_ip=0.0.0.0/0',
      ],
    ],
  });
});

test('a device already configured as desired needs no request at all (key and port are not re-sent)', (t) => {
  t.is(minimalSetRequest(viewFromConfig(configured()), desired), null);
});

test('one peer whose allowed IPs changed: only that peer, with replace_allowed_ips; the others and the device lines are left alone', (t) => {
  const changed = {
    ...desired,
    peers: desired.peers.map((p, i) => (i === 1 ? { ...p, allowedIps: ['10.1.5.0/24', '100.64.1.5/32'] } : p)),
  };
  const request = minimalSetRequest(viewFromConfig(configured()), changed);
  t.deepEqual(shape(request), {
    device: [],
    peers: [[peers[1]!.slice(0, 6), 'replace_allowed_ips', 'allowed_ip=10.1.5.0/24', 'allowed_ip=100.64.1.5/32']],
  });
  t.is(minimalSetRequest(viewFromConfig(applied(configured(), request)), changed), null, 'applying it converges');
});

test('a peer no longer wanted is removed; a new one added; a changed port alone is one listen_port line', (t) => {
  const newcomer = generateKeyPair().publicKey;
  const changed: WgDesiredConfig = {
    ...desired,
    listenPort: 24009,
    peers: [
      desired.peers[0]!,
      desired.peers[2]!,
      { publicKey: newcomer, endpoint: '198.51.100.20:1', allowedIps: ['10.1.7.0/24'], persistentKeepalive: 0 },
    ],
  };
  const request = minimalSetRequest(viewFromConfig(configured()), changed);
  t.deepEqual(shape(request), {
    device: ['listen_port=24009'],
    peers: [
      [newcomer.slice(0, 6), 'endpoint=198.51.100.20:1', 'replace_allowed_ips', 'allowed_ip=10.1.7.0/24'],
      [peers[1]!.slice(0, 6), 'remove'],
    ],
  });
  t.is(minimalSetRequest(viewFromConfig(applied(configured(), request)), changed), null);
});

test('a prefix moving from one peer to another converges in one request', (t) => {
  const moved = {
    ...desired,
    peers: desired.peers.map((p, i) =>
      i === 0
        ? { ...p, allowedIps: ['100.64.1.0/32'] }
        : i === 1
          ? { ...p, allowedIps: [...p.allowedIps, '10.1.0.0/24'] }
          : p,
    ),
  };
  const next = applied(configured(), minimalSetRequest(viewFromConfig(configured()), moved));
  t.is(minimalSetRequest(viewFromConfig(next), moved), null);
  t.deepEqual(
    [...next.peers.values()].map((p) => p.allowedIps.map((ip) => ip.text).sort()),
    [['100.64.1.0/32'], ['10.1.0.0/24', '10.1.2.0/24', '100.64.1.2/32'], ['0.0.0.0/0']],
  );
});

test('a roamed endpoint is left alone for a peer that dials in, and set back for a peer with a planned endpoint', (t) => {
  const config = configured();
  const roamedTo = UapiEndpoint.parse('203.0.113.5:4444');
  const [first, second] = [...config.peers.keys()];
  const withRoaming = viewFromConfig(config, {
    peer: (hex) => (hex === first || hex === second ? { endpoint: roamedTo } : undefined),
  });
  t.deepEqual(shape(minimalSetRequest(withRoaming, desired)), {
    device: [],
    peers: [[peers[0]!.slice(0, 6), 'endpoint=198.51.100.11:24000']],
  });
});

test('a different private key is replaced (the request carries it), and the key never appears in the request shape', (t) => {
  const other = { ...desired, privateKey: generateKeyPair().privateKey };
  const request = minimalSetRequest(viewFromConfig(configured()), other);
  t.deepEqual(shape(request), { device: ['private_key'], peers: [] });
  t.false(JSON.stringify(request).includes(other.privateKey.revealBase64()));
});
