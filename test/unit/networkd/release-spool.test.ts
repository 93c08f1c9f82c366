/**
 * The spool of releases zmesh-cni hands over while networkd is down: durable files, one per
 * release (the same DEL twice is one), bounded, drained in order with failures kept for later.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  drainReleaseSpool,
  releaseSpoolDir,
  spoolRelease,
  spooledReleases,
} from '../../../src/networkd/release-spool.js';

async function spoolDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-release-spool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return releaseSpoolDir(join(dir, 'networkd.sock'));
}

test('a release is spooled once however often it is handed over, and the spool is bounded', async (t) => {
  const dir = await spoolDir(t);
  t.is(await spoolRelease(dir, { network: 'blue', workload: 'w1' }, 2), 'spooled');
  t.is(await spoolRelease(dir, { network: 'blue', workload: 'w1' }, 2), 'spooled');
  t.is(await spoolRelease(dir, { network: 'blue', workload: 'w2' }, 2), 'spooled');
  t.is(await spoolRelease(dir, { network: 'blue', workload: 'w3' }, 2), 'full', 'past the bound');
  t.is(
    await spoolRelease(dir, { network: 'blue', workload: 'w2' }, 2),
    'spooled',
    'one already waiting still counts as spooled',
  );
  t.deepEqual(
    spooledReleases(dir)
      .map((r) => r.release.workload)
      .sort(),
    ['w1', 'w2'],
  );
});

test('a drain removes what it released and keeps what failed; foreign files are left alone', async (t) => {
  const dir = await spoolDir(t);
  await spoolRelease(dir, { network: 'blue', workload: 'ok' });
  await spoolRelease(dir, { network: 'blue', workload: 'fails' });
  await writeFile(join(dir, 'README'), 'not a release\n');
  const done = await drainReleaseSpool(dir, async (r) => r.workload === 'ok');
  t.deepEqual(done, [{ network: 'blue', workload: 'ok' }]);
  t.deepEqual(
    spooledReleases(dir).map((r) => r.release.workload),
    ['fails'],
  );
  t.true((await readdir(dir)).includes('README'));
  t.deepEqual(await drainReleaseSpool(join(dir, 'missing'), async () => true), [], 'no spool: nothing to drain');
});
