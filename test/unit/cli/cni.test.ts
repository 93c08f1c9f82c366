/**
 * `zmesh cni conflist` and `zmesh cni install`, through the CLI's main with captured output, in a
 * temporary directory: the conflist a runtime loads, the plugin link, and refusals that name the
 * option and write nothing.
 */
import { lstat, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { type ToolRun, zmeshInProcess } from '../../harness/zmesh-in-process.js';

const zmesh = (args: string[]): Promise<ToolRun> => zmeshInProcess(args);

const PLUGIN = fileURLToPath(new URL('../../../bin/zmesh-cni', import.meta.url));

test('conflist prints one zmesh-cni entry with the ips capability, for the network and socket given', async (t) => {
  const r = await zmesh(['cni', 'conflist', '--network', 'blue', '--socket', '/srv/zmesh/networkd.sock']);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), {
    cniVersion: '1.1.0',
    name: 'zmesh-blue',
    plugins: [{ type: 'zmesh-cni', network: 'blue', socket: '/srv/zmesh/networkd.sock', capabilities: { ips: true } }],
  });
  t.is(
    JSON.parse((await zmesh(['cni', 'conflist', '--network', 'blue'])).stdout).plugins[0].socket,
    '/var/lib/zmesh/networkd.sock',
  );
});

test('install writes NAME.conflist and links the plugin, again idempotently, and says what it wrote', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-cni-install-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const args = [
    'cni',
    'install',
    '--network',
    'blue',
    '--name',
    'zm',
    '--dir',
    join(dir, 'net.d'),
    '--bin-dir',
    join(dir, 'bin'),
  ];
  const first = await zmesh(args);
  t.is(first.status, 0, first.stderr);
  t.regex(first.stdout, new RegExp(`wrote ${join(dir, 'net.d', 'zm.conflist')}`));
  t.regex(first.stdout, /linked .*zmesh-cni ->/);
  t.is(JSON.parse(await readFile(join(dir, 'net.d', 'zm.conflist'), 'utf8')).name, 'zm');
  t.is(await readlink(join(dir, 'bin', 'zmesh-cni')), PLUGIN);
  const again = await zmesh(args);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /kept .*zmesh-cni ->/);
  t.deepEqual(await readdir(join(dir, 'net.d')), ['zm.conflist']);
});

test('bad options are refused naming the option, and a foreign plugin file is not replaced', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-cni-install-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bad = await zmesh(['cni', 'conflist', '--network', 'a/b']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--network: "a\/b" is not a network name/);
  const relative = await zmesh(['cni', 'conflist', '--network', 'blue', '--socket', 'x.sock']);
  t.regex(relative.stderr, /--socket: must be an absolute path/);
  t.regex((await zmesh(['cni', 'install'])).stderr, /--network: required/);
  await writeFile(join(dir, 'zmesh-cni'), 'someone else\n');
  const foreign = await zmesh(['cni', 'install', '--network', 'blue', '--dir', dir, '--bin-dir', dir]);
  t.not(foreign.status, 0);
  t.regex(foreign.stderr, /--bin-dir: .*zmesh-cni exists and is not a link zmesh made/);
  t.false((await lstat(join(dir, 'zmesh-cni'))).isSymbolicLink());
  t.deepEqual(await readdir(dir), ['zmesh-cni'], 'no conflist written either');
});
