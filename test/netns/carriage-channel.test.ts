// The failover's in-band channel (src/networkd/carriage-channel.ts) with real sockets: it lives in
// the namespace asked for (not in the root namespace), takes an announcement only from the address
// of the aggregator it names, tells news from repetition, and pads a hello above a re-dial's bytes.
import dgram from 'node:dgram';
import test from 'ava';
import { native } from '../../src/native/binding.js';
import { HELLO_MIN_BYTES } from '../../src/networkd/carriage.js';
import { CARRIAGE_PORT } from '../../src/netdef/index.js';
import { CarriageChannel } from '../../src/networkd/carriage-channel.js';
import { worldFor } from '../harness/ava.js';
import { runCommand, systemTool, waitFor } from '../harness/index.js';

test('announcements cross a namespace only from the aggregator they name; news is told once; hellos are padded', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('carriage');
  await ns.setUp('lo');
  for (const address of ['100.64.9.1/32', '100.64.9.2/32', '100.64.9.3/32', '100.64.9.4/32'])
    await ns.addAddress('lo', address);
  const log: string[] = [];
  const alpha = CarriageChannel.open(ns.path, 'net1', '100.64.9.1', (m) => log.push(m));
  const public1 = CarriageChannel.open(ns.path, 'net1', '100.64.9.2', (m) => log.push(m));
  const other = CarriageChannel.open(ns.path, 'net1', '100.64.9.3', (m) => log.push(m));
  t.teardown(() => [alpha, public1, other].forEach((c) => c.close()));

  const listeners = (await ns.exec('ss', ['-ulnH', `sport = :${CARRIAGE_PORT}`])).stdout;
  t.regex(listeners, /100\.64\.9\.2:51822/, 'bound inside the namespace');
  const root = await runCommand(systemTool('ss'), ['-ulnH', `src 100.64.9.2 and sport = :${CARRIAGE_PORT}`]);
  t.is(root.stdout.trim(), '', 'not in the root namespace');

  public1.allow(new Map([['alpha', '100.64.9.1']]));
  let news = 0;
  public1.onNews(() => news++);
  alpha.announce('100.64.9.2', 'alpha', [{ hidden: 'hid1', forMs: 1500 }]);
  other.announce('100.64.9.2', 'alpha', [{ hidden: 'hid2', forMs: 0 }]); // another address speaking for alpha
  alpha.announce('100.64.9.2', 'bravo', [{ hidden: 'hid2', forMs: 0 }]); // not an allowed aggregator
  alpha.announce('100.64.9.2', 'alpha', [{ hidden: 'hid1', forMs: 2000 }]); // the same list again
  const heard: ReturnType<CarriageChannel['drain']> = [];
  await waitFor(
    () => {
      heard.push(...public1.drain());
      return heard.length >= 2;
    },
    { what: "alpha's two announcements", timeoutMs: 5_000, intervalMs: 20 },
  );
  t.deepEqual(heard, [
    { from: 'alpha', carries: [{ hidden: 'hid1', forMs: 1500 }] },
    { from: 'alpha', carries: [{ hidden: 'hid1', forMs: 2000 }] },
  ]);
  t.is(news, 1, 'a repeated list is no news');

  // A hello's IP packet (its payload + 28) plus WireGuard's 32 bytes exceeds what counts as one.
  const sink = native().inNetns(ns.path, () => {
    const socket = dgram.createSocket({
      type: 'udp4',
      lookup: (host, _options, callback) => (callback as (e: null, a: string, f: number) => void)(null, host, 4),
    });
    socket.bind({ address: '100.64.9.4', port: CARRIAGE_PORT });
    return socket;
  });
  t.teardown(() => sink.close());
  const sizes: number[] = [];
  sink.on('message', (data) => sizes.push(data.length));
  public1.hello('100.64.9.4', 'hid1', 'alpha');
  await waitFor(() => sizes.length > 0, { what: 'a hello', timeoutMs: 5_000, intervalMs: 20 });
  t.true(sizes[0]! + 28 + 32 > HELLO_MIN_BYTES, `hello payload ${sizes[0]} bytes`);
  public1.hello('100.64.9.1', 'hid1', 'alpha');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.deepEqual(alpha.drain(), [], 'a hello is not an announcement');
  t.deepEqual(alpha.drainHellos(), [], 'nor read from an address that is not the sender');

  // A hidden NR's hello names the aggregator it moves to (the hand-over): read from its address only.
  alpha.allow(new Map([['hid1', '100.64.9.4']]));
  let helloNews = 0;
  alpha.onNews(() => helloNews++);
  const fromHid1 = (next?: string) =>
    sink.send(
      JSON.stringify({ v: 1, net: 'net1', from: 'hid1', uses: 'alpha', next, pad: '...' }),
      CARRIAGE_PORT,
      '100.64.9.1',
    );
  fromHid1('bravo');
  fromHid1('bravo');
  public1.hello('100.64.9.1', 'hid1', 'alpha', 'charlie'); // the right name from the wrong address
  const hellos: unknown[] = [];
  await waitFor(
    () => {
      hellos.push(...alpha.drainHellos());
      return hellos.length >= 2;
    },
    { what: "hid1's two hellos", timeoutMs: 5_000, intervalMs: 20 },
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  hellos.push(...alpha.drainHellos());
  t.deepEqual(hellos, [
    { from: 'hid1', next: 'bravo' },
    { from: 'hid1', next: 'bravo' },
  ]);
  t.is(helloNews, 1, 'a repeated hand-over is no news');
  t.deepEqual(log, []);
});
