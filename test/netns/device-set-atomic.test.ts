/**
 * A UAPI set on a running userspace device (WireGuardDevice with its TUN in a test namespace,
 * served by UapiServer on /var/run/wireguard/<per-run name>.sock) is atomic across the
 * configuration and the data plane. Random sets, valid and invalid fields mixed (endpoint port
 * 0 included, which wireguard-go accepts), and now and then a data plane that refuses a step
 * (the device's fault-injection hook): after every answer, `wg showconf` of the device equals
 * `wg showconf` of the configuration model (ConfigOnlyDevice) given only the sets that should
 * succeed, and the data plane's peer table — peers, endpoints, which peer each prefix routes
 * to — equals the configuration. Traffic stays inside the namespace (endpoints on loopback).
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import test from 'ava';
import { DataplaneError } from '../../src/wg/dataplane.js';
import { WireGuardDevice } from '../../src/wg/device.js';
import { ConfigOnlyDevice } from '../../src/wg/uapi/config-only-device.js';
import { parseRequest } from '../../src/wg/uapi/parse.js';
import { UapiServer } from '../../src/wg/uapi/server.js';
import { worldFor } from '../harness/ava.js';

const run = promisify(execFile);
const SOCKET_DIR = '/var/run/wireguard';

/** A small seeded PRNG (mulberry32), so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends one raw request, resolves to the errno of its answer. */
function send(socketPath: string, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      const match = /errno=(-?\d+)\n\n$/.exec(answer);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no answer to ${JSON.stringify(text.slice(0, 80))}`)));
    socket.write(text);
  });
}

const showconf = async (name: string): Promise<string[]> => (await run('wg', ['showconf', name])).stdout.split('\n');

test('random sets, valid and invalid, some refused by the data plane: showconf always equals the model and the data plane equals the configuration', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('set');
  const name = w.ifname('sa');
  const device = await WireGuardDevice.create({ name, tunNetns: ns.path, udpNetns: ns.path });
  t.teardown(() => device.close());
  const socketPath = `${SOCKET_DIR}/${name}.sock`;
  const server = await UapiServer.listen(socketPath, device);
  t.teardown(() => server.close());
  const model = await ConfigOnlyDevice.create();
  const modelServer = await UapiServer.listen(`${SOCKET_DIR}/${name}m.sock`, model);
  t.teardown(() => modelServer.close());

  const seed = Number(process.env.ZMESH_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed} (ZMESH_SEED=${seed} replays it)`);
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const keys = Array.from({ length: 6 }, () => randomBytes(32).toString('hex'));
  const prefixes = [...Array.from({ length: 6 }, (_, i) => `10.0.${i}.0/24`), 'fd00:1::/64', 'fd00:2::/64'];
  const peerLine = (): string =>
    pick([
      () => `endpoint=127.0.0.1:${pick([0, 1, 51820, 65535])}`,
      () => `endpoint=[::1]:${pick([0, 443])}`,
      () => 'endpoint=[::ffff:127.0.0.1]:51820',
      () => 'endpoint=300.1.1.1:5', // invalid
      () => `allowed_ip=${pick(prefixes)}`,
      () => `allowed_ip=${pick(prefixes)}`,
      () => 'allowed_ip=10.0.0.0/33', // invalid
      () => 'replace_allowed_ips=true',
      () => `persistent_keepalive_interval=${pick([0, 25, 70000])}`, // 70000 invalid
      () => `preshared_key=${randomBytes(32).toString('hex')}`,
      () => 'remove=true',
      () => 'update_only=true',
      () => 'protocol_version=2', // invalid
    ])();
  const deviceLine = (): string =>
    pick([
      () => `private_key=${randomBytes(32).toString('hex')}`,
      () => `listen_port=${pick([0, 40000 + Math.floor(random() * 20000)])}`,
      () => `fwmark=${pick([0, 7])}`,
      () => 'replace_peers=true',
    ])();
  const randomSet = (): string => {
    const lines = ['set=1'];
    for (let i = Math.floor(random() * 2.5); i > 0; i--) lines.push(deviceLine());
    for (let p = 1 + Math.floor(random() * 3); p > 0; p--) {
      lines.push(`public_key=${pick(keys)}`);
      for (let i = Math.floor(random() * 4); i > 0; i--) lines.push(peerLine());
    }
    return `${lines.join('\n')}\n\n`;
  };
  // The request first: a peer with endpoint port 0, then one with a good endpoint.
  const sets = [
    `set=1\npublic_key=${keys[0]}\nendpoint=127.0.0.1:0\nallowed_ip=10.0.0.0/24\npublic_key=${keys[1]}\nendpoint=127.0.0.1:51820\nallowed_ip=10.0.1.0/24\n\n`,
  ];
  while (sets.length < 150) sets.push(randomSet());

  let refused = 0;
  let applied = 0;
  for (const [index, text] of sets.entries()) {
    let expectOk = true;
    try {
      const parsed = parseRequest(text);
      if (parsed.op === 'set') {
        // The model's prediction: applySet on a copy; the live device must agree.
        const copy = await ConfigOnlyDevice.create(model.config);
        copy.set(parsed.request);
      }
    } catch {
      expectOk = false;
    }
    let fired = false;
    let injected = false;
    if (expectOk && index > 0 && random() < 0.25) {
      injected = true;
      const failAt = Math.floor(random() * 3);
      let step = 0;
      device.hooks.beforeDataplaneStep = () => {
        if (step++ === failAt) {
          fired = true;
          throw new DataplaneError('NATIVE_ERROR', 'injected refusal');
        }
      };
    }
    const errno = await send(socketPath, text);
    if (injected) device.hooks.beforeDataplaneStep = undefined;
    const context = `set #${index} (seed ${seed}): ${text.replace(/[0-9a-f]{64}/g, (k) => `<${k.slice(0, 6)}>`)}`;
    if (expectOk && !fired) {
      t.is(errno, 0, context);
      await send(`${SOCKET_DIR}/${name}m.sock`, text);
      applied++;
    } else {
      t.not(errno, 0, context);
      if (fired) t.is(errno, -5, context);
      refused++;
    }

    // wg showconf: the device's equals the model's (the listen port is the device's own pick when 0 is configured).
    const live = await showconf(name);
    const predicted = await showconf(`${name}m`);
    const withoutPort = (lines: string[]) =>
      model.config.listenPort === 0 ? lines.filter((l) => !l.startsWith('ListenPort')) : lines;
    const visible = (lines: string[]) => withoutPort(lines).filter((l) => !l.startsWith('PrivateKey'));
    t.deepEqual(visible(live), visible(predicted), context);
    t.true(
      live.filter((l) => l.startsWith('PrivateKey')).join() ===
        predicted.filter((l) => l.startsWith('PrivateKey')).join(),
      `private key (${context})`,
    );

    // The data plane's table equals the configuration.
    const table = device.dataplaneTable();
    const expected = [...model.config.peers.values()].map((p) => ({
      publicKeyHex: p.publicKey.hex,
      endpoint: p.endpoint?.text ?? null,
    }));
    const order = (a: { publicKeyHex: string | null }, b: { publicKeyHex: string | null }) =>
      String(a.publicKeyHex).localeCompare(String(b.publicKeyHex));
    t.deepEqual([...table.peers].sort(order), expected.sort(order), `data plane peers (${context})`);
    for (const prefix of prefixes) {
      const owner = [...model.config.peers.values()].find((p) => p.allowedIps.some((ip) => ip.text === prefix));
      t.is(table.routeOf(prefix.split('/')[0]!), owner?.publicKey.hex ?? null, `${prefix} routes (${context})`);
    }
    if (!t.passed) break;
  }
  t.log(`${applied} applied, ${refused} refused`);
  t.true(applied > 20 && refused > 20, 'both kinds were exercised');
});

test('a refused set gives back the allowed IPs its staged steps took from other peers (seed 775552)', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('give');
  const device = await WireGuardDevice.create({ name: w.ifname('sg'), tunNetns: ns.path, udpNetns: ns.path });
  t.teardown(() => device.close());
  const [a, b, c, d] = Array.from({ length: 4 }, () => randomBytes(32).toString('hex'));
  const set = (text: string): void => {
    const parsed = parseRequest(`set=1\n${text}\n\n`);
    if (parsed.op !== 'set') throw new Error('not a set');
    device.set(parsed.request);
  };
  /** The next set's data plane step `failAt` (0-based) is refused. */
  const refuseStep = (failAt: number): void => {
    let step = 0;
    device.hooks.beforeDataplaneStep = () => {
      if (step++ === failAt) throw new DataplaneError('NATIVE_ERROR', 'injected refusal');
    };
  };
  set(`public_key=${a}\nallowed_ip=10.0.2.0/24\nallowed_ip=10.0.3.0/24\npublic_key=${b}\nallowed_ip=10.0.4.0/24`);
  const routes = (): (string | null)[] =>
    ['10.0.2.1', '10.0.3.1', '10.0.4.1'].map((ip) => device.dataplaneTable().routeOf(ip));
  t.deepEqual(routes(), [a, a, b]);

  // An existing peer takes a prefix from another (staged), then a new peer's step is refused.
  refuseStep(1);
  t.throws(() => set(`public_key=${b}\nallowed_ip=10.0.2.0/24\npublic_key=${c}\nallowed_ip=10.0.5.0/24`), {
    message: /refused/,
  });
  t.deepEqual(routes(), [a, a, b], 'b gave 10.0.2.0/24 back to a');

  // A new peer takes prefixes from two others (staged), then the next step is refused.
  refuseStep(1);
  t.throws(() => set(`public_key=${c}\nallowed_ip=10.0.3.0/24\nallowed_ip=10.0.4.0/24\npublic_key=${d}`), {
    message: /refused/,
  });
  t.deepEqual(routes(), [a, a, b], 'the removed new peer gave 10.0.3.0/24 back to a and 10.0.4.0/24 to b');

  // A peer removed and re-added in one set (its new id takes its old id's prefixes), then refused.
  refuseStep(1);
  t.throws(() => set(`replace_peers=true\npublic_key=${a}\nallowed_ip=10.0.2.0/24\npublic_key=${d}`), {
    message: /refused/,
  });
  t.deepEqual(routes(), [a, a, b], 'the re-added peer gave its prefixes back to its old self');
  device.hooks.beforeDataplaneStep = undefined;

  // Not refused: the moves stand.
  set(`public_key=${b}\nallowed_ip=10.0.2.0/24`);
  t.deepEqual(routes(), [b, a, b]);
});
