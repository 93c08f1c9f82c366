import { execFileSync } from 'node:child_process';
import test from 'ava';
import { MALLOC_ARENA_ENV, NETWORKD_MALLOC_ARENAS, withoutArenaLimit } from '../../../src/networkd/malloc-arenas.js';

test("wgd is started without networkd's arena limit, everything else kept", (t) => {
  const env = { PATH: '/usr/bin', [MALLOC_ARENA_ENV]: NETWORKD_MALLOC_ARENAS, OTHER: 'x' };
  t.deepEqual(withoutArenaLimit(env), { PATH: '/usr/bin', OTHER: 'x' });
  t.deepEqual(withoutArenaLimit({ PATH: '/usr/bin' }), { PATH: '/usr/bin' });
});

// What the limit is for: threads that allocate get arenas of their own unless it is set. Worker
// threads allocating at once stand in for V8's and libuv's. A glibc thread arena is one 64 MiB
// reservation aligned to 64 MiB: its used part read-write, the rest PROT_NONE right after it, so
// counting those pairs finds arenas and nothing else (a mere 64 MiB-aligned anonymous mapping,
// which V8 or the addon may make, is not one; one run of the suite counted such a mapping).
const child = `
const { Worker } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const workers = Array.from({ length: 4 }, () => new Worker("for (let i = 0; i < 2e4; i++) Buffer.alloc(1024 + (i % 7) * 512);", { eval: true }));
Promise.all(workers.map((w) => new Promise((r) => w.on('exit', r)))).then(() => {
  const SIZE = 64n << 20n;
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter(Boolean).map((l) => {
    const [range, perms, offset, dev, inode] = l.split(/\\s+/);
    const [start, end] = range.split('-').map((x) => BigInt('0x' + x));
    return { start, end, perms, anonymous: offset === '00000000' && dev === '00:00' && inode === '0' && !/\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S/.test(l) };
  });
  const arenas = maps.filter((m, i) => {
    const rest = maps[i + 1];
    return m.anonymous && m.perms === 'rw-p' && m.start % SIZE === 0n &&
      (m.end - m.start === SIZE || (rest !== undefined && rest.anonymous && rest.perms === '---p' && rest.start === m.end && rest.end - m.start === SIZE));
  }).length;
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
