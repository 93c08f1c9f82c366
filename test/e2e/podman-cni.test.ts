/**
 * Real podman (Debian 4.3.1, runc, the CNI backend, its libcni) attaching containers to a zmesh
 * network through zmesh-cni, on two simulated nodes — one public, one hidden behind NAT — each with
 * its own networkd: the containers ping each other across the mesh, `podman network ls/inspect`
 * show the networks, `podman rm` releases the addresses, and a plugin error makes `podman run`
 * fail cleanly with nothing left behind.
 */
import { join } from 'node:path';
import test from 'ava';
import { waitForHandshakes } from '../../src/sim/mesh.js';
import { SimWorld } from '../../src/sim/world.js';
import { PodmanEnv } from './podman-env.js';

test('podman containers on a public and a hidden node ping each other over zmesh-cni; rm releases; errors leave nothing', async (t) => {
  const world = await SimWorld.create([{ id: 'alpha' }, { id: 'hid1', hidden: true }]);
  t.teardown(() => world.teardown());
  const alpha = world.node('alpha');
  const hidden = world.node('hid1');
  const net = await world.createNetwork('pod', '10.3.0.0/16', world.nodes, { aggregator: alpha });
  await world.deploy(net);

  const env = PodmanEnv.create(join(world.harness.tempDir(), 'podman'));
  t.teardown(() => env.removeAll());
  const zmAlpha = `${world.prefix}-alpha`;
  const zmHidden = `${world.prefix}-hid`;
  const zmBad = `${world.prefix}-bad`;
  env.addConflist(zmAlpha, { type: 'zmesh-cni', network: 'pod', socket: alpha.socketPath });
  env.addConflist(zmHidden, { type: 'zmesh-cni', network: 'pod', socket: hidden.socketPath });
  env.addConflist(zmBad, { type: 'zmesh-cni', network: 'nosuch', socket: alpha.socketPath });

  const listed = await env.podman(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
  t.is(listed.exitCode, 0, listed.stderr);
  t.true(listed.stdout.split('\n').includes(`${zmAlpha} zmesh-cni`), listed.stdout);
  const inspected = await env.podman(['network', 'inspect', zmHidden]);
  t.is(inspected.exitCode, 0, inspected.stderr);
  t.like(JSON.parse(inspected.stdout)[0], { name: zmHidden, driver: 'zmesh-cni' });

  const a = `${world.prefix}-a`;
  const b = `${world.prefix}-b`;
  // b asks for a static address: podman passes --ip to the plugin (CNI_ARGS IP=, this conflist
  // declaring no ips capability).
  for (const [name, network, extra] of [
    [a, zmAlpha, []],
    [b, zmHidden, ['--ip', '10.3.1.50']],
  ] as const) {
    const run = await env.podman([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      ...extra,
      '--rootfs',
      env.rootfs,
      'sleep',
      '600',
    ]);
    t.is(run.exitCode, 0, `podman run on ${network}: ${run.stderr}`);
  }
  const ipOf = async (name: string, network: string) =>
    (
      await env.podman(['inspect', name, '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`])
    ).stdout.trim();
  const ipA = await ipOf(a, zmAlpha);
  const ipB = await ipOf(b, zmHidden);
  t.regex(ipA, /^10\.3\.0\.\d+$/, 'alpha has the first /24');
  t.is(ipB, '10.3.1.50', 'the hidden node has the second /24, and b the address it asked for');
  const workloadsOf = async (node: typeof alpha) => (await node.api.getNetwork('pod')).workloads;
  t.deepEqual(
    (await workloadsOf(alpha)).map((w) => [w.owner, w.ip]),
    [['cni', ipA]],
  );

  await waitForHandshakes(world, net, 20_000);
  for (const [from, to] of [
    [a, ipB],
    [b, ipA],
  ] as const) {
    const ping = await env.podman(['exec', from, 'ping', '-c', '3', '-W', '3', to]);
    t.is(ping.exitCode, 0, `${from} → ${to}: ${ping.stdout}${ping.stderr}`);
    t.regex(ping.stdout, /3 packets received/);
  }

  // A plugin error fails `podman run` with the plugin's message, and leaves no container or workload.
  const bad = await env.podman([
    'run',
    '--rm',
    '--name',
    `${world.prefix}-bad`,
    '--network',
    zmBad,
    '--rootfs',
    env.rootfs,
    'true',
  ]);
  t.not(bad.exitCode, 0);
  t.regex(bad.stderr, /nosuch/);
  const all = await env.podman(['ps', '--all', '--format', '{{.Names}}']);
  t.deepEqual(all.stdout.split('\n').filter(Boolean).sort(), [a, b].sort());
  t.is((await workloadsOf(alpha)).length, 1);

  const removed = await env.podman(['rm', '--force', '--time', '0', a, b]);
  t.is(removed.exitCode, 0, removed.stderr);
  t.deepEqual(await workloadsOf(alpha), [], 'podman rm released the address on alpha');
  t.deepEqual(await workloadsOf(hidden), [], 'and on the hidden node');
});
