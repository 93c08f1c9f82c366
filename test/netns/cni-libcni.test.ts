/**
 * zmesh-cni through a real libcni: a cnitool equivalent (test/fixtures/libcni-tool) built with Go
 * against Debian's libcni 1.1.2 — the library podman uses — validates the conflist (libcni asks
 * the plugin's VERSION), then adds, checks and deletes through it, against a real networkd. libcni
 * keeps its result cache in the test's directory, not /var/lib/cni.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { writeCniPluginExecutable } from '../../src/sim/zmesh-command.js';
import { worldFor } from '../harness/ava.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

const TOOL_SOURCE = fileURLToPath(new URL('../fixtures/libcni-tool/main.go', import.meta.url));
/** Where Debian's golang-github-appc-cni-dev puts libcni's source (GOPATH layout). */
const DEBIAN_GOPATH = '/usr/share/gocode';

test('libcni 1.1.2 validates, adds, checks and deletes through zmesh-cni', async (t) => {
  const w = await worldFor(t);
  const dir = w.tempDir();
  const tool = join(dir, 'libcni-tool');
  const build = await execa('go', ['build', '-o', tool, TOOL_SOURCE], {
    env: { GO111MODULE: 'off', GOPATH: DEBIAN_GOPATH, GOCACHE: join(dir, 'go-cache'), HOME: dir },
    reject: false,
    timeout: 120_000,
  });
  t.is(build.exitCode, 0, `go build: ${build.stderr}`);

  const node = await makeNode(w);
  await startNetworkd(w, node);
  const network = `${w.prefix}-lib`;
  t.is((await call(node.socket, 'PUT', `/v1/networks/${network}`, node.definition(network, 1))).status, 200);
  const confDir = join(dir, 'net.d');
  const pluginDir = join(dir, 'cni-bin');
  const cacheDir = join(dir, 'cni-cache');
  for (const d of [confDir, pluginDir, cacheDir]) mkdirSync(d, { recursive: true });
  writeCniPluginExecutable(pluginDir);
  const conflist = {
    cniVersion: '1.0.0',
    name: 'zm',
    plugins: [{ type: 'zmesh-cni', network, socket: node.socket, capabilities: { ips: true } }],
  };
  writeFileSync(join(confDir, 'zm.conflist'), JSON.stringify(conflist));
  const libcni = (args: string[], capArgs?: object) =>
    execa(tool, args, {
      env: {
        NETCONFPATH: confDir,
        CNI_PATH: pluginDir,
        CACHE_DIR: cacheDir,
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...(capArgs ? { CAP_ARGS: JSON.stringify(capArgs) } : {}),
      },
      extendEnv: false,
      reject: false,
      timeout: 90_000,
    });

  const validated = await libcni(['validate', 'zm']);
  t.is(validated.exitCode, 0, validated.stderr);
  t.deepEqual(JSON.parse(String(validated.stdout)).capabilities, ['ips']);

  const one = await w.namespace('lc1');
  const two = await w.namespace('lc2');
  const added = await libcni(['add', 'zm', one.path, 'lib-ctr-1']);
  t.is(added.exitCode, 0, String(added.stderr));
  const result = JSON.parse(String(added.stdout));
  t.is(result.cniVersion, '1.0.0');
  t.like(result.ips[0], { address: '10.77.0.2/24', gateway: '10.77.0.1', interface: 0 });
  t.is(result.interfaces[0].sandbox, one.path);
  const fixed = await libcni(['add', 'zm', two.path, 'lib-ctr-2'], { ips: ['10.77.0.40/24'] });
  t.is(fixed.exitCode, 0, String(fixed.stderr));
  t.is(JSON.parse(String(fixed.stdout)).ips[0].address, '10.77.0.40/24', 'the ips capability reaches networkd');

  const checked = await libcni(['check', 'zm', one.path, 'lib-ctr-1']);
  t.is(checked.exitCode, 0, String(checked.stderr));
  await one.ip(['addr', 'flush', 'dev', 'eth0']);
  const drift = await libcni(['check', 'zm', one.path, 'lib-ctr-1']);
  t.is(drift.exitCode, 1);
  t.regex(String(drift.stderr), /eth0 has no IPv4 address, not 10.77.0.2\/24/);

  const twice = await libcni(['add', 'zm', two.path, 'lib-ctr-2']);
  t.is(twice.exitCode, 1, 'a second ADD of the same container and ifname is refused');
  t.regex(String(twice.stderr), /already attached/);

  for (const [ns, id] of [
    [one, 'lib-ctr-1'],
    [two, 'lib-ctr-2'],
    [two, 'lib-ctr-2'],
  ] as const) {
    const deleted = await libcni(['del', 'zm', ns.path, id]);
    t.is(deleted.exitCode, 0, `del ${id}: ${deleted.stderr}`);
  }
  t.deepEqual((await call(node.socket, 'GET', `/v1/networks/${network}`)).body.workloads, []);
});
