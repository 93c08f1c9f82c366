/**
 * zmesh-cni driven the way runtimes drive it (a process per verb, CNI_* in the environment, the
 * configuration on stdin) against a real networkd in a node namespace of a test world, with real
 * workload namespaces: every verb, every version, the error paths that reach networkd, repeated
 * DELs, DEL while networkd is down (spooled, released when it is back), CHECK after drift, GC under
 * both key names, 20 ADDs at once.
 */
import { execFileSync } from 'node:child_process';
import test from 'ava';
import { SUPPORTED_VERSIONS } from '../../src/cni/spec.js';
import { worldFor } from '../harness/ava.js';
import { ping } from '../harness/index.js';
import { conflistEntry, runPlugin } from './cni-plugin.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

test('every verb and version through the plugin process: results, errors, CHECK drift, idempotent DEL, GC', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  await startNetworkd(w, node);
  const network = `${w.prefix}-blue`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${network}`, node.definition(network, 1))).status, 200);
  const conf = (version = '1.0.0', extra: object = {}) => conflistEntry(network, node.socket, version, extra);

  const version = await runPlugin({ command: 'VERSION' }, { cniVersion: '1.0.0' });
  t.deepEqual(version.out, { cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] });

  // ADD in each version: the result is written in the config's version.
  const namespaces = [];
  const results = [];
  for (const [i, v] of SUPPORTED_VERSIONS.entries()) {
    const ns = await w.namespace(`c${i}`);
    namespaces.push(ns);
    const added = await runPlugin(
      {
        command: 'ADD',
        containerId: `ctr${i}`,
        netns: ns.path,
        ifname: 'eth0',
        args: 'IgnoreUnknown=1;K8S_POD_NAME=p',
      },
      conf(v),
    );
    t.is(added.exitCode, 0, added.stdout + added.stderr);
    t.is(added.out.cniVersion, v);
    t.is(added.out.interfaces[0].name, 'eth0');
    t.regex(added.out.interfaces[0].mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    t.is(added.out.interfaces[0].sandbox, ns.path);
    t.is(added.out.interfaces[0].mtu, v === '1.1.0' ? 1420 : undefined);
    t.like(added.out.ips[0], { address: `10.77.0.${i + 2}/24`, gateway: '10.77.0.1', interface: 0 });
    t.is(added.out.ips[0].version, v === '0.3.1' || v === '0.4.0' ? '4' : undefined);
    t.deepEqual(added.out.routes, [{ dst: '0.0.0.0/0', gw: '10.77.0.1' }]);
    t.deepEqual(
      (await ns.addresses('eth0')).filter((a) => !a.includes(':')),
      [`10.77.0.${i + 2}/24`],
    );
    results.push(added.out);
  }
  t.is(
    (await ping(namespaces[0]!, '10.77.0.3', { count: 2 })).loss,
    0,
    'two containers on the network reach each other',
  );
  const shown = await call(node.socket, 'GET', `/v1/networks/${network}`);
  t.deepEqual(
    shown.body.workloads.map((wl: { owner: string; containerId: string }) => [wl.owner, wl.containerId]).sort(),
    SUPPORTED_VERSIONS.map((_, i) => ['cni', `ctr${i}`]),
  );

  // Errors that reach networkd, each its code; none changes networkd's workloads.
  const before = JSON.stringify((await call(node.socket, 'GET', `/v1/networks/${network}`)).body.workloads);
  const spare = await w.namespace('spare');
  const refusals: Array<[string, Parameters<typeof runPlugin>[0], object, number, RegExp]> = [
    [
      'a second ADD',
      { command: 'ADD', containerId: 'ctr0', netns: namespaces[0]!.path, ifname: 'eth0' },
      conf(),
      101,
      /already attached/,
    ],
    [
      'an unknown network',
      { command: 'ADD', containerId: 'x1', netns: spare.path, ifname: 'eth0' },
      { ...conf(), network: 'nosuch' },
      7,
      /nosuch/,
    ],
    [
      'a static IP outside the subnet',
      { command: 'ADD', containerId: 'x1', netns: spare.path, ifname: 'eth0' },
      conf('1.0.0', { runtimeConfig: { ips: ['10.78.0.5/24'] } }),
      7,
      /outside/,
    ],
    [
      'a taken static IP',
      { command: 'ADD', containerId: 'x1', netns: spare.path, ifname: 'eth0', args: 'IP=10.77.0.2' },
      conf(),
      7,
      /taken/,
    ],
    [
      'a namespace that does not exist',
      { command: 'ADD', containerId: 'x1', netns: '/run/netns/zmesh-cni-none', ifname: 'eth0' },
      conf(),
      4,
      /CNI_NETNS refused by networkd/,
    ],
    [
      'networkd not answering',
      { command: 'ADD', containerId: 'x1', netns: spare.path, ifname: 'eth0' },
      { ...conf(), socket: `${node.socket}.none` },
      11,
      /not answering/,
    ],
  ];
  for (const [what, env, config, code, message] of refusals) {
    const run = await runPlugin(env, config);
    t.is(run.exitCode, 1, what);
    t.is(run.out?.code, code, `${what}: ${run.stdout}`);
    t.regex(run.out?.msg ?? '', message, what);
    t.is(run.stdout.trim().split('\n').length, 1, `${what}: one document on stdout`);
  }
  t.is(
    JSON.stringify((await call(node.socket, 'GET', `/v1/networks/${network}`)).body.workloads),
    before,
    'refusals change nothing',
  );
  t.deepEqual(
    (await spare.links()).map((l) => l.ifname),
    ['lo'],
    'nothing was made in the refused namespace',
  );

  // A static address through the `ips` capability.
  const fixed = await runPlugin(
    { command: 'ADD', containerId: 'fixed', netns: spare.path, ifname: 'eth1' },
    conf('1.0.0', { runtimeConfig: { ips: ['10.77.0.50/24'] } }),
  );
  t.is(fixed.out?.ips?.[0]?.address, '10.77.0.50/24', fixed.stdout);

  // CHECK: matches prevResult; after drift (the address removed in the namespace) it names the drift.
  const c2 = namespaces[2]!;
  t.is(
    (
      await runPlugin(
        { command: 'CHECK', containerId: 'ctr2', netns: c2.path, ifname: 'eth0' },
        conf('1.0.0', { prevResult: results[2] }),
      )
    ).exitCode,
    0,
  );
  await c2.ip(['addr', 'del', '10.77.0.4/24', 'dev', 'eth0']);
  const drift = await runPlugin(
    { command: 'CHECK', containerId: 'ctr2', netns: c2.path, ifname: 'eth0' },
    conf('1.0.0', { prevResult: results[2] }),
  );
  t.is(drift.out?.code, 102, drift.stdout);
  t.regex(drift.out.msg, /eth0 has no IPv4 address, not 10.77.0.4\/24/);
  const other = await runPlugin(
    { command: 'CHECK', containerId: 'ctr2', netns: c2.path, ifname: 'eth0' },
    conf('1.0.0', { prevResult: results[3] }),
  );
  t.regex(other.out?.msg ?? '', /networkd holds 10.77.0.4\/24, prevResult says 10.77.0.5\/24/);

  // DEL: released, then again, then with no netns; and after the namespace is gone.
  const del0 = { command: 'DEL', containerId: 'ctr0', netns: namespaces[0]!.path, ifname: 'eth0' };
  for (const run of [del0, del0, { ...del0, netns: '' }]) {
    const r = await runPlugin(run, conf('1.0.0', { prevResult: results[0] }));
    t.is(r.exitCode, 0, r.stdout);
    t.is(r.stdout, '', 'a successful DEL prints nothing');
  }
  // A namespace of the world's prefix that the test removes itself (teardown sweeps it if left).
  const goneName = `${w.prefix}gone`;
  execFileSync('ip', ['netns', 'add', goneName]);
  const goneAdd = await runPlugin(
    { command: 'ADD', containerId: 'gone1', netns: `/run/netns/${goneName}`, ifname: 'eth0' },
    conf(),
  );
  t.is(goneAdd.exitCode, 0, goneAdd.stdout);
  execFileSync('ip', ['netns', 'del', goneName]);
  const gone = await runPlugin(
    { command: 'DEL', containerId: 'gone1', netns: `/run/netns/${goneName}`, ifname: 'eth0' },
    conf(),
  );
  t.is(gone.exitCode, 0, `DEL after the namespace is gone: ${gone.stdout}`);
  t.is(
    (await runPlugin({ command: 'DEL', containerId: 'ctr1', netns: namespaces[1]!.path, ifname: 'eth0' }, conf()))
      .exitCode,
    0,
  );
  const afterDel = (await call(node.socket, 'GET', `/v1/networks/${network}`)).body.workloads.map(
    (wl: { containerId: string }) => wl.containerId,
  );
  t.deepEqual(afterDel.sort(), ['ctr2', 'ctr3', 'fixed']);
  t.is(
    (
      await call(node.socket, 'POST', `/v1/networks/${network}/workloads`, {
        workload: 'api1',
        netns: namespaces[0]!.path,
        ifname: 'eth9',
      })
    ).status,
    200,
  );

  // GC under each key name: CNI workloads not named are released; the API's workload is not CNI's to collect.
  const gc1 = await runPlugin(
    { command: 'GC' },
    conf('1.1.0', {
      'cni.dev/valid-attachments': [
        { containerID: 'ctr2', ifname: 'eth0' },
        { containerID: 'fixed', ifname: 'eth1' },
      ],
    }),
  );
  t.is(gc1.exitCode, 0, gc1.stdout);
  const ids = async () =>
    (await call(node.socket, 'GET', `/v1/networks/${network}`)).body.workloads
      .map((wl: { workload: string; containerId: string | null }) => wl.containerId ?? wl.workload)
      .sort();
  t.deepEqual(await ids(), ['api1', 'ctr2', 'fixed']);
  const gc2 = await runPlugin(
    { command: 'GC' },
    conf('1.1.0', { 'cni.dev/attachments': [{ containerID: 'fixed', ifname: 'eth1' }] }),
  );
  t.is(gc2.exitCode, 0, gc2.stdout);
  t.deepEqual(await ids(), ['api1', 'fixed']);

  // STATUS: the NR is up; a network of one node has no peer to be degraded by.
  const status = await runPlugin({ command: 'STATUS' }, conf('1.1.0'));
  t.is(status.exitCode, 0, status.stdout);
  const down = await runPlugin({ command: 'STATUS' }, { ...conf('1.1.0'), socket: `${node.socket}.none` });
  t.is(down.out?.code, 50);
});

test('20 ADDs at once get distinct addresses; DELs while networkd is down are spooled and done when it is back; a vanished namespace is released', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  let networkd = await startNetworkd(w, node);
  const network = `${w.prefix}-par`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${network}`, node.definition(network, 1))).status, 200);
  const conf = conflistEntry(network, node.socket, '1.0.0');
  const namespaces = await Promise.all(Array.from({ length: 20 }, (_, i) => w.namespace(`p${i}`)));
  const added = await Promise.all(
    namespaces.map((ns, i) =>
      runPlugin({ command: 'ADD', containerId: `par${i}`, netns: ns.path, ifname: 'eth0' }, conf),
    ),
  );
  for (const run of added) t.is(run.exitCode, 0, run.stdout + run.stderr);
  const addresses = added.map((run) => run.out?.ips?.[0]?.address);
  t.is(new Set(addresses).size, 20, `distinct: ${addresses.join(' ')}`);

  // A container whose namespace goes away without a DEL (a crashed runtime): released at reconcile.
  const vanish = `${w.prefix}vanish`;
  execFileSync('ip', ['netns', 'add', vanish]);
  const vanishAdd = await runPlugin(
    { command: 'ADD', containerId: 'vanish', netns: `/run/netns/${vanish}`, ifname: 'eth0' },
    conf,
  );
  t.is(vanishAdd.exitCode, 0, vanishAdd.stdout);

  await networkd.stop();
  execFileSync('ip', ['netns', 'del', vanish]);
  const dels = await Promise.all(
    namespaces
      .slice(0, 5)
      .map((ns, i) => runPlugin({ command: 'DEL', containerId: `par${i}`, netns: ns.path, ifname: 'eth0' }, conf)),
  );
  for (const run of dels) t.is(run.exitCode, 0, `DEL with networkd down does not fail the runtime: ${run.stdout}`);
  networkd = await startNetworkd(w, node);
  const left = (await call(node.socket, 'GET', `/v1/networks/${network}`)).body.workloads.map(
    (wl: { containerId: string }) => wl.containerId,
  );
  t.is(left.length, 15);
  t.false(left.includes('vanish'), 'the workload whose namespace vanished was released by the reconcile at start');
  for (let i = 0; i < 5; i++) t.false(left.includes(`par${i}`), `par${i} was released when networkd came back`);
  t.deepEqual(
    await namespaces[0]!.links().then((links) => links.map((l) => l.ifname)),
    ['lo'],
    'its interface is gone',
  );
});
