/**
 * The tool's file handling under hostile conditions, run in-process through main(): a directory
 * it may not write (an immutable one: root passes permission bits), symbolic links (written
 * through, the link kept; a dangling one counts as existing), and JSON that JSON.parse would
 * silently change (a key given twice, an integer beyond 2^53) — each refused in the form
 * `zmesh: <command>: <field>: <reason>`, naming the file and never a temporary.
 */
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ready } from '../../../src/netdef/index.js';
import { type ToolRun, zmeshInProcess } from '../../harness/zmesh-in-process.js';

let dir = '';

// Every revision the tool writes is signed (unsigned, it warns on stderr).
const zmesh = (...args: string[]): Promise<ToolRun> =>
  zmeshInProcess(args, { env: { ZMESH_ADMIN_KEY: join(dir, 'admin.key') } });

/** A network of alpha and bravo in `file`. */
async function network(file: string): Promise<void> {
  for (const args of [
    ['net', 'create', file, '--name', 'files', '--ip-range', '10.8.0.0/16'],
    ['net', 'add-node', file, '--node-record', join(dir, 'alpha', 'node.json')],
    ['net', 'add-node', file, '--node-record', join(dir, 'bravo', 'node.json')],
  ]) {
    const run = await zmesh(...args);
    if (run.status !== 0) throw new Error(run.stderr);
  }
}

test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-cli-files-'));
  if ((await zmesh('admin', 'init', '--key', join(dir, 'admin.key'))).status !== 0)
    throw new Error('admin init failed');
  for (const [id, endpoint] of [
    ['alpha', '198.51.100.31'],
    ['bravo', '198.51.100.32'],
  ]) {
    const run = await zmesh('node', 'init', '--state-dir', join(dir, id!), '--id', id!, '--endpoint', endpoint!);
    if (run.status !== 0) throw new Error(run.stderr);
  }
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a directory the tool may not write: "FILE: cannot write <file>: permission denied", no doubled code, no temporary file named', async (t) => {
  const locked = join(dir, 'locked');
  await mkdir(locked);
  const file = join(locked, 'def.json');
  await network(file);
  const before = await readFile(file, 'utf8');
  execFileSync('chattr', ['+i', locked]);
  t.teardown(() => execFileSync('chattr', ['-i', locked]));
  const run = await zmesh('net', 'remove-node', file, '--node', 'bravo');
  t.is(run.stderr, `zmesh: net remove-node: FILE: cannot write ${file}: permission denied\n`);
  t.is(run.status, 1);
  t.is(await readFile(file, 'utf8'), before);
});

test('a FILE that is a symbolic link is written through to its target and stays a link', async (t) => {
  const real = join(dir, 'real.json');
  await network(real);
  const link = join(dir, 'link.json');
  await symlink(real, link);
  const run = await zmesh('net', 'remove-node', link, '--node', 'bravo');
  t.is(run.status, 0, run.stderr);
  t.true((await lstat(link)).isSymbolicLink(), 'the link is kept');
  t.is(await readlink(link), real);
  t.deepEqual(
    JSON.parse(await readFile(real, 'utf8')).resources.map((r: { node: string }) => r.node),
    ['alpha'],
    'the target changed',
  );
});

test('create: a dangling link counts as an existing FILE; with --force the new definition goes to its target', async (t) => {
  const link = join(dir, 'dangling.json');
  const target = join(dir, 'not-yet.json');
  await symlink(target, link);
  const refused = await zmesh('net', 'create', link, '--name', 'dang', '--ip-range', '10.9.0.0/16');
  t.is(refused.status, 2);
  t.is(refused.stderr, `zmesh: net create: FILE: ${link} already exists (use --force to replace it)\n`);
  t.is(await readlink(link), target);
  const forced = await zmesh('net', 'create', link, '--name', 'dang', '--ip-range', '10.9.0.0/16', '--force');
  t.is(forced.status, 0, forced.stderr);
  t.true((await lstat(link)).isSymbolicLink());
  t.is(JSON.parse(await readFile(target, 'utf8')).name, 'dang');
});

test('JSON that JSON.parse would silently change is refused with its path: a key given twice, an integer beyond 2^53 quoted as sent', async (t) => {
  const file = join(dir, 'strict.json');
  await network(file);
  const text = await readFile(file, 'utf8');
  const twice = text.replace('"name": "files",', '"name": "files",\n  "name": "renamed",');
  t.not(twice, text);
  await writeFile(file, twice);
  const dup = await zmesh('net', 'show', file);
  t.is(dup.status, 2);
  t.is(dup.stderr, `zmesh: net show: ${file}#/name: key "name" is given twice in one object\n`);
  const big = text.replace(/"revision": \d+/, '"revision": 9007199254740993');
  await writeFile(file, big);
  const huge = await zmesh('net', 'show', file);
  t.is(huge.status, 2);
  t.regex(
    huge.stderr,
    new RegExp(`^zmesh: net show: ${file}#/revision: "9007199254740993" is not exactly representable`),
  );
});
