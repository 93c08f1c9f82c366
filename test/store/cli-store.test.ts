// The tool against a real etcd cluster: node records published by `node init --store`, networks
// edited by NAME with --store (or ZMESH_STORE), concurrent add-node processes that all land, and
// the clear failure when the cluster has no quorum.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { etcdFor } from './etcd-fixture.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function zmesh(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const result = await execa('node', ['--import', tsx, main, ...args], {
    reject: false,
    env: { ZMESH_STORE: '', ...env },
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await zmesh(args, env);
  if (run.exitCode !== 0) throw new Error(`zmesh ${args.join(' ')} exited ${run.exitCode}: ${run.stderr}`);
  return run.stdout;
}

test('node init --store publishes records; concurrent `net add-node --node ID` processes all land with distinct subnets and ports', async (t) => {
  const { cluster, store } = await etcdFor(t);
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-cli-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const url = cluster.url;
  const ids = ['n1', 'n2', 'n3', 'n4'];
  await Promise.all(
    ids.map((id, i) =>
      ok([
        'node',
        'init',
        '--state-dir',
        join(dir, id),
        '--id',
        id,
        '--endpoint',
        `198.51.100.${i + 1}`,
        '--store',
        url,
      ]),
    ),
  );
  t.regex(
    await ok(['net', 'create', 'fleet', '--ip-range', '10.20.0.0/16', '--store', url]),
    /created network "fleet" \(10\.20\.0\.0\/16\) in etcd:\/\/.*, revision 1/,
  );

  const runs = await Promise.all(ids.map((id) => zmesh(['net', 'add-node', 'fleet', '--node', id, '--store', url])));
  for (const run of runs) t.is(run.exitCode, 0, run.stderr);

  const def = (await store().readNetwork('fleet'))!;
  t.is(def.revision, 1 + ids.length);
  t.deepEqual(def.resources.map((r) => r.node).sort(), ids);
  t.is(new Set(def.resources.map((r) => r.subnet)).size, ids.length);
  t.is(new Set(def.resources.map((r) => r.listenPort)).size, ids.length);

  // ZMESH_STORE names the store for a plain NAME; show reads it from there.
  const shown = await ok(['net', 'show', 'fleet'], { ZMESH_STORE: url });
  t.regex(shown, /network fleet .* revision 5 {2}4 NRs/);
  await ok(['net', 'set-exit', 'fleet', '--node', 'n2'], { ZMESH_STORE: url });
  t.is((await store().readNetwork('fleet'))!.exit, 'n2');
  // A verb's refusal names the option, as with a FILE, and writes nothing.
  const refused = await zmesh(['net', 'remove-node', 'fleet', '--node', 'n2', '--store', url]);
  t.is(refused.exitCode, 2);
  t.regex(refused.stderr, /^zmesh: net remove-node: --node: .*exit/);
  t.is((await store().readNetwork('fleet'))!.revision, 6);
  // An unknown record is a clear usage error.
  const unknown = await zmesh(['net', 'add-node', 'fleet', '--node', 'nobody', '--store', url]);
  t.regex(unknown.stderr, /--node: no node record "nobody" in etcd:\/\//);
});

test('with two of three members down an edit fails with a clear "no quorum" error and writes nothing', async (t) => {
  const { cluster, store } = await etcdFor(t);
  const url = cluster.url;
  await ok(['net', 'create', 'q', '--ip-range', '10.21.0.0/16', '--store', url]);
  await cluster.kill(1);
  await cluster.kill(2);
  const started = Date.now();
  const run = await zmesh(['net', 'set-exit', 'q', '--none', '--store', url]);
  t.is(run.exitCode, 1, run.stderr);
  t.regex(run.stderr, /^zmesh: net set-exit: --store: .*no quorum/);
  t.true(Date.now() - started < 30_000);
  await cluster.restart(1);
  await cluster.restart(2);
  t.is((await store().readNetwork('q'))!.revision, 1);
});
