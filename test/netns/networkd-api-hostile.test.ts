/**
 * networkd's API (a real process in a node namespace) against a hostile or buggy client:
 * X-Task-Id is claimed only once a whole, valid body is in hand (a stalled body holds nothing,
 * its failure is nobody else's), the same id with another body is a 409 naming the digests,
 * malformed percent-encoding in a path is a 400, and a chunked body over the limit is logged as
 * what it is.
 */
import net from 'node:net';
import test from 'ava';
import { worldFor } from '../harness/ava.js';
import { waitFor } from '../harness/index.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

/** Opens a raw connection and sends `head` (and no more): a client that stalls mid-body. */
function stalled(socketPath: string, head: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => {
      socket.write(head, () => resolve(socket));
    });
    socket.on('error', reject);
  });
}

test('an X-Task-Id is claimed only with a whole valid body; the same id with another body is a 409 naming the digests', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  const networkd = await startNetworkd(w, node);
  const name = `${w.prefix}-tid`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${name}`, node.definition(name, 1))).status, 200);
  const ns = await w.namespace('wl1');
  const body = JSON.stringify({ workload: 'c1', netns: ns.path, ifname: 'eth0' });

  // A body that never completes holds nothing: the same id with the whole body is served at once.
  const slow = await stalled(
    node.socket,
    `POST /v1/networks/${name}/workloads HTTP/1.1\r\nHost: x\r\nX-Task-Id: slow-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"workload":`,
  );
  t.teardown(() => slow.destroy());
  const started = Date.now();
  const whole = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, body, { 'x-task-id': 'slow-1' });
  t.is(whole.status, 200, JSON.stringify(whole.body));
  t.is(whole.headers['x-task-replayed'], undefined, 'it did the work itself');
  t.true(Date.now() - started < 5000, 'not held by the stalled request');
  slow.destroy(); // the stalled request's failure is its own: the recorded outcome stays the good one
  const replay = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, body, { 'x-task-id': 'slow-1' });
  t.is(replay.status, 200);
  t.is(replay.headers['x-task-replayed'], 'true');
  t.deepEqual(replay.body, whole.body);

  // Invalid JSON under a task id claims nothing either: the id then serves a valid request.
  const broken = await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, '{"workload": ', {
    'x-task-id': 'bad-1',
  });
  t.is(broken.status, 400);
  const ns2 = await w.namespace('wl2');
  const good = await call(
    node.socket,
    'POST',
    `/v1/networks/${name}/workloads`,
    { workload: 'c2', netns: ns2.path, ifname: 'eth0' },
    { 'x-task-id': 'bad-1' },
  );
  t.is(good.status, 200, JSON.stringify(good.body));

  // The same id, another body: 409 naming the mismatch, never the first one's answer.
  const other = await call(
    node.socket,
    'POST',
    `/v1/networks/${name}/workloads`,
    { workload: 'c1', netns: ns.path, ifname: 'eth1' },
    { 'x-task-id': 'slow-1' },
  );
  t.is(other.status, 409, JSON.stringify(other.body));
  t.regex(
    other.body.error.message,
    /^X-Task-Id: task slow-1 was used for POST \/v1\/networks\/\S+\/workloads with a body of sha256 [0-9a-f]{16}…, not this body \(sha256 [0-9a-f]{16}…\)$/,
  );

  // 20 concurrent posts under one id with different bodies: one does the work, the rest are 409.
  const ns3 = await w.namespace('wl3');
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      call(
        node.socket,
        'POST',
        `/v1/networks/${name}/workloads`,
        { workload: 'c3', netns: ns3.path, ifname: `eth${i}` },
        { 'x-task-id': 'many' },
      ),
    ),
  );
  t.deepEqual(replies.map((r) => r.status).sort(), [200, ...Array(19).fill(409)]);
  const winner = replies.find((r) => r.status === 200)!;
  t.true((await ns3.links()).some((l) => l.ifname === winner.body.ifname));
  t.is((await ns3.links()).filter((l) => l.ifname.startsWith('eth')).length, 1, 'only the winner attached');
  await networkd.stop();
});

test('malformed percent-encoding in a path, a key given twice and an inexact integer in a body are 400s naming where', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  const networkd = await startNetworkd(w, node);
  for (const [method, path, field] of [
    ['GET', '/v1/networks/%E0%A4%A', 'name'],
    ['PUT', '/v1/networks/%ZZ', 'name'],
    ['DELETE', '/v1/networks/x/workloads/%E0%A4', 'workload'],
  ] as const) {
    const reply = await call(node.socket, method, path, method === 'PUT' ? {} : undefined);
    t.is(reply.status, 400, `${method} ${path}: ${JSON.stringify(reply.body)}`);
    t.regex(reply.body.error.message, new RegExp(`^${field}: malformed percent-encoding`));
  }
  // JSON that JSON.parse would silently change: refused with its path, quoting what was sent.
  const name = `${w.prefix}-dup`;
  const text = JSON.stringify(node.definition(name, 1));
  const twice = await call(node.socket, 'PUT', `/v1/networks/${name}`, text.replace('{', `{"name":"${name}-renamed",`));
  t.is(twice.status, 400);
  t.is(twice.body.error.message, 'body#/name: key "name" is given twice in one object');
  const huge = await call(
    node.socket,
    'PUT',
    `/v1/networks/${name}`,
    text.replace(/"revision":\d+/, '"revision":9007199254740993'),
  );
  t.is(huge.status, 400);
  t.regex(huge.body.error.message, /^body#\/revision: "9007199254740993" is not exactly representable/);
  t.is((await call(node.socket, 'GET', `/v1/networks/${name}`)).status, 404, 'nothing was applied');
  await networkd.stop();
});

test('a chunked body over the limit is logged as too large, not as an internal error', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  const networkd = await startNetworkd(w, node);
  // 33 MiB in chunks (no Content-Length): the limit (32 MiB) is found while streaming.
  const answer = await new Promise<string>((resolve) => {
    const socket = net.connect(node.socket, () => {
      socket.write(
        `PUT /v1/networks/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n`,
      );
      const chunk = Buffer.alloc(1 << 20, 0x20);
      let sent = 0;
      const more = (): void => {
        while (sent < 33 && !socket.destroyed) {
          sent++;
          if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`)) {
            socket.once('drain', more);
            return;
          }
        }
      };
      more();
    });
    let text = '';
    socket.on('data', (d) => (text += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
  if (answer !== '') t.regex(answer, /^HTTP\/1\.1 413/);
  await waitFor(
    () => /PUT \/v1\/networks\/big: 413 body: larger than \d+ bytes/.test(networkd.stdout + networkd.stderr),
    { what: 'the log line', timeoutMs: 5000 },
  );
  t.false(/ECONNRESET|internal error/.test(networkd.stdout + networkd.stderr), 'not logged as an internal error');
  t.is((await call(node.socket, 'GET', '/v1/health')).status, 200);
  await networkd.stop();
});
