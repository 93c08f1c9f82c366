/**
 * `zmesh node install` writes the node's units, starts nothing without --now, and the units pass
 * `systemd-analyze verify` (systemd 252 verifies unit files without systemd running as PID 1).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { systemTool } from '../../../src/sim/harness/system-tools.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

test('the units are written, verified clean by systemd-analyze, and carry the options given', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-units-'));
  try {
    const r = await execa(
      'node',
      [
        '--import',
        tsx,
        main,
        'node',
        'install',
        '--state-dir',
        '/var/lib/zmesh',
        '--unit-dir',
        dir,
        '--metrics',
        '127.0.0.1:9464',
        '--provisiond-metrics',
        '127.0.0.1:9465',
        '--store',
        'etcd://10.0.0.1:2379',
        '--node',
        'alpha',
      ],
      { reject: false },
    );
    t.is(r.exitCode, 0, r.stderr);
    t.regex(
      r.stdout,
      /systemctl daemon-reload && systemctl enable --now zmesh-networkd\.service zmesh-provisiond\.service/,
    );
    t.deepEqual((await readdir(dir)).sort(), ['zmesh-networkd.service', 'zmesh-provisiond.service']);
    const networkd = await readFile(join(dir, 'zmesh-networkd.service'), 'utf8');
    t.regex(
      networkd,
      /^ExecStart=\/\S+\/bin\/zmesh networkd --state-dir \/var\/lib\/zmesh --metrics 127\.0\.0\.1:9464$/m,
    );
    t.regex(networkd, /^KillMode=process$/m);
    // One malloc arena (src/networkd/malloc-arenas.ts): per-thread arenas made its RSS creep.
    t.regex(networkd, /^Environment=MALLOC_ARENA_MAX=1$/m);
    t.notRegex(
      networkd,
      /^(ProtectSystem|PrivateTmp|ProtectHome)=/m,
      "no mount namespace: /run/netns mounts must be the host's",
    );
    const provisiond = await readFile(join(dir, 'zmesh-provisiond.service'), 'utf8');
    t.regex(provisiond, /--store etcd:\/\/10\.0\.0\.1:2379 --node alpha --metrics 127\.0\.0\.1:9465$/m);
    t.regex(provisiond, /^ProtectSystem=strict$/m);
    const verify = spawnSync(
      systemTool('systemd-analyze'),
      ['verify', join(dir, 'zmesh-networkd.service'), join(dir, 'zmesh-provisiond.service')],
      { encoding: 'utf8' },
    );
    t.is(verify.status, 0, verify.stderr);
    t.is(verify.stderr.trim(), '', 'no warnings');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('systemd-analyze verify is not a rubber stamp: a unit with an unknown key and a relative command fails', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-units-'));
  try {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'zmesh-bad.service'), '[Service]\nExecStart=relative-zmesh\nFrobnicate=yes\n');
    const verify = spawnSync(systemTool('systemd-analyze'), ['verify', join(dir, 'zmesh-bad.service')], {
      encoding: 'utf8',
    });
    t.not(verify.status, 0);
    t.regex(verify.stderr, /Unknown key 'Frobnicate'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad metrics address or a store without a node writes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-units-'));
  try {
    const bad = await execa(
      'node',
      ['--import', tsx, main, 'node', 'install', '--unit-dir', dir, '--metrics', 'localhost:99999'],
      { reject: false },
    );
    t.is(bad.exitCode, 2);
    t.regex(bad.stderr, /--metrics: /);
    const half = await execa(
      'node',
      ['--import', tsx, main, 'node', 'install', '--unit-dir', dir, '--store', 'etcd://10.0.0.1:2379'],
      { reject: false },
    );
    t.is(half.exitCode, 2);
    t.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
