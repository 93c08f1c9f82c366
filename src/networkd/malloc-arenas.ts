/**
 * networkd runs with one malloc arena (MALLOC_ARENA_MAX=1: its unit file, the simulated world).
 *
 * Why: glibc gives each thread that allocates its own arena (up to 8 per core), and networkd's
 * threads — V8's compiler and GC workers (compiler zones were 12.8 MB of networkd's ~16 MB
 * malloc'd at peak, heaptrack), libuv's pool, the nft helper threads — each keep their arena's
 * pages, fragmented, at its own high-water mark. As bursts land in different arenas the sum
 * creeps up: a 30-minute soak read +9.5% RSS, linear (~20 KB per operation), while the live
 * malloc'd memory stayed flat; malloc_trim gave nothing back (the pages are not free whole).
 * With one arena the same churn reuses the same pages: 300 operations, +0 kB of malloc'd RSS.
 * networkd's threads do no hot-path allocation, so the arena lock costs nothing that shows.
 *
 * wgd does not inherit it: its data-plane threads allocate concurrently per device.
 */
export const MALLOC_ARENA_ENV = 'MALLOC_ARENA_MAX';
export const NETWORKD_MALLOC_ARENAS = '1';

/** `env` without networkd's arena limit (what wgd is started with). */
export function withoutArenaLimit(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { [MALLOC_ARENA_ENV]: _, ...rest } = env;
  return rest;
}
