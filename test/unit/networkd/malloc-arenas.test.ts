import { execFileSync } from 'node:child_process';
import test from 'ava';
import { MALLOC_ARENA_ENV, NETWORKD_MALLOC_ARENAS, withoutArenaLimit } from '../../../src/networkd/malloc-arenas.js';

test("wgd is started without networkd's arena limit, everything else kept", (t) => {
  const env = { PATH: '/usr/bin', [MALLOC_ARENA_ENV]: NETWORKD_MALLOC_ARENAS, OTHER: 'x' };
  t.deepEqual(withoutArenaLimit(env), { PATH: '/usr/bin', OTHER: 'x' });
  t.deepEqual(withoutArenaLimit({ PATH: '/usr/bin' }), { PATH: '/usr/bin' });
});

// What the limit is for: threads that allocate get arenas of their own (64 MiB-aligned mappings)
// unless it is set. Worker threads allocating at once stand in for V8's and libuv's.
const child = `
const { Worker } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const workers = Array.from({ length: 4 }, () => new Worker("for (let i = 0; i < 2e4; i++) Buffer.alloc(1024 + (i % 7) * 512);", { eval: true }));
Promise.all(workers.map((w) => new Promise((r) => w.on('exit', r)))).then(() => {
  const arenas = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => /^[0-9a-f]*[048c]000000-\\S+ rw-p 00000000 00:00 0 *$/.test(l)).length;
  console.log(arenas);
});
`;
const arenas = (env: NodeJS.ProcessEnv): number =>
  Number(execFileSync(process.execPath, ['-e', child], { encoding: 'utf8', env }).trim());

test('with MALLOC_ARENA_MAX=1 threads share the one arena; without it they make their own', (t) => {
  const base = withoutArenaLimit(process.env);
  t.true(arenas(base) >= 2, 'threads get arenas of their own by default');
  t.is(arenas({ ...base, [MALLOC_ARENA_ENV]: NETWORKD_MALLOC_ARENAS }), 0);
});
