/**
 * A real Prometheus (Debian's) scraping every node's networkd inside the simulated world: it runs
 * in the internet router's namespace on 127.0.0.1:19190 (its own data dir) and scrapes each public
 * node's `--metrics 0.0.0.0:9464`, which listens in that node's namespace. One world serves every
 * scenario, in this order so that the slow one overlaps the others: the exposition is
 * promtool-clean, charlie's daemons are killed (its handshake ages from then), a transfer grows
 * both ends' byte counters, a flood of garbage datagrams grows drops by reason, and finally
 * charlie's handshake age passes 180 s while bravo, with traffic, stays fresh. Last, every
 * daemon's log of the run is JSON lines and holds none of the run's secrets (identity keys,
 * sealed and unsealed WireGuard keys).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ContinuousPing } from '../../src/sim/continuous-ping.js';
import type { Namespace } from '../../src/sim/harness/namespace.js';
import { systemTool } from '../../src/sim/harness/system-tools.js';
import { tcpTransfer } from '../../src/sim/harness/transfer.js';
import { waitFor } from '../../src/sim/harness/wait.js';
import { SimWorld } from '../../src/sim/world.js';
import { type NetworkDefinition, PrivateKey, openResourceKey, ready } from '../../src/netdef/index.js';
import { type ToolRun, zmeshInProcess } from '../harness/zmesh-in-process.js';

const METRICS_PORT = 9464;
const PROMETHEUS = '127.0.0.1:19190';
const TRANSFER_BYTES = 8 * 1024 * 1024;
const FLOOD = 2000;

/** One PromQL instant query against the world's Prometheus: each series' labels and value. */
async function query(ns: Namespace, expr: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const script = `fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(String(e)); process.exit(1); })`;
  const url = `http://${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const r = await ns.exec(systemTool('node'), ['-e', script, url], { timeoutMs: 10_000 });
  const answer = JSON.parse(r.stdout) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (answer.status !== 'success') throw new Error(`${expr}: ${r.stdout}`);
  return answer.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

async function scalar(ns: Namespace, expr: string): Promise<number | null> {
  const result = await query(ns, expr);
  return result.length === 1 ? result[0]!.value : null;
}

/** `zmesh status` against a node's networkd (the sim runs no provisiond): exit status and screen. */
function zmeshStatus(socket: string): Promise<ToolRun> {
  return zmeshInProcess(['status', '--networkd-socket', socket, '--provisiond-socket', 'none']);
}

async function fetchText(ns: Namespace, url: string): Promise<string> {
  const script = `fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))`;
  return (await ns.exec(systemTool('node'), ['-e', script, url], { timeoutMs: 10_000 })).stdout;
}

test('a real Prometheus scrapes every node: counters follow a transfer, drops a flood, handshake age a dead peer', async (t) => {
  t.timeout(8 * 60_000);
  const world = await SimWorld.create([{ id: 'alpha' }, { id: 'bravo' }, { id: 'charlie' }], {
    networkdArgs: ['--wg', 'userspace', '--metrics', `0.0.0.0:${METRICS_PORT}`, '--metrics-interval', '1'],
  });
  try {
    const [alpha, bravo, charlie] = [world.node('alpha'), world.node('bravo'), world.node('charlie')];
    const net = await world.createNetwork('obs', '10.77.0.0/16', world.nodes);
    await world.deploy(net);
    const [wa, wb, wc] = [
      await world.attachWorkload(net, alpha),
      await world.attachWorkload(net, bravo),
      await world.attachWorkload(net, charlie),
    ];

    const dir = world.harness.tempDir();
    const targets = world.nodes.map(
      (n) => `{ targets: ['${n.uplinkAddress}:${METRICS_PORT}'], labels: { node: '${n.id}' } }`,
    );
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, scrape_timeout: 900ms }\nscrape_configs:\n  - job_name: networkd\n    static_configs: [${targets.join(', ')}]\n`,
    );
    const prometheus = world.internet.spawn(systemTool('prometheus'), [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=${PROMETHEUS}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ]);
    await waitFor(async () => (await scalar(world.internet, 'sum(up{job="networkd"})').catch(() => null)) === 3, {
      what: 'Prometheus scraping all three nodes',
      timeoutMs: 60_000,
      intervalMs: 500,
    });

    // Every endpoint's exposition passes promtool's lint.
    for (const node of world.nodes) {
      const text = await fetchText(world.internet, `http://${node.uplinkAddress}:${METRICS_PORT}/metrics`);
      const lint = spawnSync(systemTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
      t.is(lint.status, 0, `${node.id}: ${lint.stdout}${lint.stderr}`);
      t.true(text.includes(`wireguard_sent_bytes_total{network="obs"`), node.id);
    }

    // Handshakes everywhere, then charlie's daemons die: its age grows from here.
    for (const [from, to] of [
      [wa, wb],
      [wa, wc],
      [wb, wc],
    ] as const)
      await (await ContinuousPing.start(from.ns, to.ip, 200)).stop();
    const keepFresh = await ContinuousPing.start(wa.ns, wb.ip, 500);
    await waitFor(
      async () => ((await scalar(world.internet, 'min(wireguard_latest_handshake_seconds{node="alpha"})')) ?? 0) > 0,
      { what: 'alpha handshaken with both peers', timeoutMs: 30_000, intervalMs: 500 },
    );
    const healthy = await zmeshStatus(alpha.socketPath);
    t.is(healthy.status, 0, `${healthy.stdout}${healthy.stderr}`);
    t.log(`zmesh status on alpha:\n${healthy.stdout}`);
    t.regex(healthy.stdout, /^network obs \(rev \d+\) {2}10\.77\.\d+\.0\/24 {2}member {2}port \d+ {2}NR up$/m);
    t.regex(healthy.stdout, /^ {2}charlie +198\.51\.100\.13:\d+ +\d+s /m);
    await charlie.stopDaemons();
    t.is(await scalar(world.internet, 'zmesh_peers_handshake_recent{node="alpha",network="obs"}'), 2);

    // A transfer alpha → bravo grows alpha's sent and bravo's received counters by at least its size.
    const sentBefore = await scalar(world.internet, 'wireguard_sent_bytes_total{node="alpha",peer_node="bravo"}');
    const receivedBefore = await scalar(
      world.internet,
      'wireguard_received_bytes_total{node="bravo",peer_node="alpha"}',
    );
    t.not(sentBefore, null);
    t.not(receivedBefore, null);
    const transfer = await tcpTransfer({ server: wb.ns, client: wa.ns, connectTo: wb.ip, bytes: TRANSFER_BYTES });
    t.true(transfer.intact);
    await waitFor(
      async () => {
        const sent = await scalar(world.internet, 'wireguard_sent_bytes_total{node="alpha",peer_node="bravo"}');
        const received = await scalar(world.internet, 'wireguard_received_bytes_total{node="bravo",peer_node="alpha"}');
        return sent! - sentBefore! >= TRANSFER_BYTES && received! - receivedBefore! >= TRANSFER_BYTES;
      },
      { what: `both peers' byte counters grown by ${TRANSFER_BYTES}`, timeoutMs: 20_000, intervalMs: 500 },
    );

    // Garbage datagrams (an unknown message type) at bravo's WireGuard port grow its drops by reason.
    const described = (await bravo.api.getNetwork('obs')) as { device: { listenPort: number } };
    const drops = 'sum(zmesh_dataplane_drops_total{node="bravo",reason="unknownType"})';
    const dropsBefore = (await scalar(world.internet, drops)) ?? 0;
    const flood = `const s = require('node:dgram').createSocket('udp4'); const b = Buffer.alloc(64, 0xee); let n = 0;
      const next = () => { if (n++ >= ${FLOOD}) return s.close(); s.send(b, ${described.device.listenPort}, '${bravo.uplinkAddress}', next); }; next();`;
    await world.internet.exec(systemTool('node'), ['-e', flood], { timeoutMs: 30_000 });
    await waitFor(async () => ((await scalar(world.internet, drops)) ?? 0) - dropsBefore >= FLOOD * 0.9, {
      what: `bravo's unknownType drops grown by ${FLOOD}`,
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    t.pass('drops grew');

    // The dead peer's handshake passes the 3-minute threshold; bravo, with traffic, never does.
    const age = (peer: string) => `time() - wireguard_latest_handshake_seconds{node="alpha",peer_node="${peer}"}`;
    await waitFor(async () => ((await scalar(world.internet, age('charlie'))) ?? 0) > 180, {
      what: "charlie's handshake age past 180 s",
      timeoutMs: 240_000,
      intervalMs: 2_000,
    });
    t.true((await scalar(world.internet, age('bravo')))! < 180);
    // networkd's own count is as of Prometheus's last scrape of it, which may predate the moment
    // the age above (computed at query time) crossed 180 s: wait for the next scrapes.
    const recent = 'zmesh_peers_handshake_recent{node="alpha",network="obs"}';
    await waitFor(async () => (await scalar(world.internet, recent)) === 1, {
      what: 'alpha counting one recent handshake (bravo) in a scrape after charlie passed 180 s',
      timeoutMs: 30_000,
      intervalMs: 1_000,
    });
    t.is(await scalar(world.internet, recent), 1);
    const stale = await zmeshStatus(alpha.socketPath);
    t.is(stale.status, 1, stale.stdout);
    t.regex(stale.stdout, /network obs: no handshake with charlie for 3m\d\ds/);
    t.log(`zmesh status on alpha, charlie dead:\n${stale.stdout}`);
    await keepFresh.stop();
    await prometheus.stop({ graceMs: 2_000 });

    // The logs: structured, and free of every key this run made.
    await ready();
    const definition = net.definition() as NetworkDefinition;
    const secrets: string[] = [];
    for (const node of world.nodes) {
      const identity = PrivateKey.fromBase64(readFileSync(node.identityKeyFile, 'utf8'));
      const resource = definition.resources.find((r) => r.node === node.id)!;
      secrets.push(
        identity.revealBase64(),
        resource.wgPrivateKeySealed,
        openResourceKey(resource, identity).revealBase64(),
      );
    }
    for (const node of world.nodes) {
      const logs = { networkd: node.networkdLog(), wgd: node.wgdLog(10_000_000) };
      for (const [daemon, text] of Object.entries(logs)) {
        // The one line on stdout is the start protocol's `ready`, not a log line.
        const lines = text.split('\n').filter((l) => l.trim() !== '' && !/^zmesh (networkd|wgd): ready, /.test(l));
        t.true(lines.length > 0, `${node.id}'s ${daemon} logged`);
        for (const line of lines)
          t.like(JSON.parse(line) as object, { component: daemon }, `${node.id} ${daemon}: ${line}`);
        for (const secret of secrets)
          t.false(text.includes(secret), `${node.id}'s ${daemon} log holds a key of the run`);
      }
    }
  } finally {
    await world.teardown();
  }
});
