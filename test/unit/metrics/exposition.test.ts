/**
 * The daemons' exposition, checked by Prometheus' own promtool, and the series it carries for a
 * known sample: names and labels of prometheus_wireguard_exporter per peer, zmesh_* per network,
 * reconcile passes and provisiond's queue and store agent.
 */
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { NetworkdMetrics } from '../../../src/networkd/metrics.js';
import { ProvisiondMetrics } from '../../../src/provisiond/metrics.js';
import type { StoreAgent } from '../../../src/provisiond/store-agent.js';
import type { TaskIdText } from '../../../src/provisiond/task.js';
import { systemTool } from '../../../src/sim/harness/system-tools.js';
import { syntheticSample } from './synthetic.js';

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(systemTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function series(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

test("networkd: per-peer series with the exporter's names and labels, per-network zmesh_* series; promtool finds nothing", async (t) => {
  const metrics = new NetworkdMetrics({ node: 'alpha', backend: 'userspace' });
  metrics.setSample(syntheticSample(2, 3));
  metrics.observeReconcile({
    steps: 4,
    networks: 2,
    removedNrs: ['abc'],
    removedDevices: [],
    reattached: 1,
    forgotten: [],
    errors: ['net1: boom'],
    ms: 12,
  });
  const text = await metrics.registry.metrics();
  const check = promtoolCheck(text);
  t.is(check.status, 0, check.output);
  t.is(check.output.trim(), '', 'no lint findings');
  t.is(series(text, 'wireguard_sent_bytes_total').length, 6);
  const key = Buffer.alloc(32, 31 + 2).toString('base64');
  t.true(
    text.includes(
      `wireguard_sent_bytes_total{network="net1",interface="w-000001",peer_node="node2",public_key="${key}"} 4001`,
    ),
    text,
  );
  t.true(
    text.includes(
      `wireguard_received_bytes_total{network="net1",interface="w-000001",peer_node="node2",public_key="${key}"} 2001`,
    ),
  );
  // No handshake yet: 0, like the exporter; otherwise the sample's time minus the age.
  t.true(text.includes('wireguard_latest_handshake_seconds{network="net0",interface="w-000000",peer_node="node0"'));
  t.regex(
    text,
    /wireguard_latest_handshake_seconds\{network="net0",interface="w-000000",peer_node="node0",public_key="[^"]+"\} 0\n/,
  );
  t.regex(
    text,
    /wireguard_latest_handshake_seconds\{network="net0",interface="w-000000",peer_node="node1",public_key="[^"]+"\} 1799999970\n/,
  );
  t.true(text.includes('zmesh_nr_up{network="net0"} 1'));
  t.true(text.includes('zmesh_network_applied_revision{network="net1"} 2'));
  // Ages 30 and 60 are fresh, none is not.
  t.true(text.includes('zmesh_peers_handshake_recent{network="net0"} 2'));
  t.true(text.includes('zmesh_nodes_reached{network="net0",path="direct"} 3'));
  t.true(text.includes('zmesh_nodes_reached{network="net0",path="relayed"} 2'));
  t.true(text.includes('zmesh_workloads{network="net1"} 1'));
  t.true(text.includes('zmesh_dataplane_drops_total{interface="w-000000",reason="authFailed"} 3'));
  t.true(text.includes('zmesh_reconcile_steps_total{kind="applied"} 4'));
  t.true(text.includes('zmesh_reconcile_steps_total{kind="nr_removed"} 1'));
  t.true(text.includes('zmesh_reconcile_steps_total{kind="device_removed"} 0'));
  t.true(text.includes('zmesh_reconcile_errors_total 1'));
  t.true(text.includes('zmesh_reconcile_duration_seconds_bucket{le="0.025"} 1'));
});

test('networkd: a network that went away leaves no series behind', async (t) => {
  const metrics = new NetworkdMetrics({ node: 'alpha', backend: 'userspace' });
  metrics.setSample(syntheticSample(2, 1));
  t.true((await metrics.registry.metrics()).includes('network="net1"'));
  metrics.setSample(syntheticSample(1, 1));
  t.false((await metrics.registry.metrics()).includes('network="net1"'));
});

test('networkd: 100 NRs × 10 peers give 1000 series per peer family (the bench times this scrape)', async (t) => {
  const metrics = new NetworkdMetrics({ node: 'alpha', backend: 'userspace' });
  metrics.setSample(syntheticSample(100, 10));
  const text = await metrics.registry.metrics();
  for (const name of [
    'wireguard_sent_bytes_total',
    'wireguard_received_bytes_total',
    'wireguard_latest_handshake_seconds',
  ])
    t.is(series(text, name).length, 1000);
  t.is(series(text, 'zmesh_nr_up').length, 100);
});

test('provisiond: tasks by state, attempt durations by type and outcome; no store series without a store; promtool finds nothing', async (t) => {
  const metrics = new ProvisiondMetrics(
    () => ({ pending: 2, running: 1, succeeded: 7, failed: 1, cancelled: 0 }),
    null,
  );
  const handler = metrics.timed(async () => ({ kind: 'succeeded', status: 200, replayed: false, result: {} }));
  await handler({ id: 't1' as TaskIdText, type: 'network.delete', network: 'n' }, 1);
  const text = await metrics.registry.metrics();
  const check = promtoolCheck(text);
  t.is(check.status, 0, check.output);
  t.is(check.output.trim(), '');
  t.true(text.includes('zmesh_tasks{state="pending"} 2'));
  t.true(text.includes('zmesh_tasks{state="failed"} 1'));
  t.true(text.includes('zmesh_task_attempt_duration_seconds_count{type="network.delete",outcome="succeeded"} 1'));
  t.deepEqual(series(text, 'zmesh_store_connected'), []);
});

test("provisiond as the store's agent: published and applied revision per network, and a network gone leaves no series", async (t) => {
  // What the metrics read of the agent (StoreAgent's phase, cursor and revisions()), as it has them in memory.
  let revisions = [
    { network: 'blue', published: 7, applied: 6 },
    { network: 'red', published: 3, applied: 0 },
  ];
  const agent = { phase: 'watching', cursor: 42, revisions: () => revisions } as unknown as StoreAgent;
  const metrics = new ProvisiondMetrics(
    () => ({ pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }),
    () => agent,
  );
  const text = await metrics.registry.metrics();
  const check = promtoolCheck(text);
  t.is(check.status, 0, check.output);
  t.deepEqual(series(text, 'zmesh_store_published_revision'), [
    'zmesh_store_published_revision{network="blue"} 7',
    'zmesh_store_published_revision{network="red"} 3',
  ]);
  t.deepEqual(series(text, 'zmesh_store_applied_revision'), [
    'zmesh_store_applied_revision{network="blue"} 6',
    'zmesh_store_applied_revision{network="red"} 0',
  ]);
  t.deepEqual(series(text, 'zmesh_store_connected'), ['zmesh_store_connected 1']);
  revisions = [{ network: 'blue', published: 8, applied: 8 }];
  const after = await metrics.registry.metrics();
  t.deepEqual(series(after, 'zmesh_store_published_revision'), ['zmesh_store_published_revision{network="blue"} 8']);
  t.false(after.includes('network="red"'));
});
