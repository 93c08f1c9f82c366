/**
 * The zmesh netns harness: builds throw-away simulated networks out of Linux network namespaces,
 * veth links and real processes, and guarantees they are removed again. Every later netns test,
 * the e2e multi-node world, the demo and the benchmarks use it. The core modules do not depend on
 * ava, so they compile into dist/ for `zmesh demo`; tests import them through the re-export shims in
 * test/harness/, and `worldFor(t)` (test/harness/ava.ts) is the adaptor for tests.
 *
 * Safety rules it enforces: everything is created inside namespaces named `<prefix><short>`
 * (prefix = "zt" + 4 random base32 chars, recorded with the owner's PID in
 * /run/zmesh-test/<prefix>.pid); veth pairs are created directly inside their namespaces, never in
 * the root namespace; sysctls are limited to per-namespace `net.*` keys; only processes the world
 * started (or that live inside its namespaces) are killed, by PID.
 *
 * Cleanup happens three ways: `teardown()` (the ava adaptor registers it with `t.teardown`), an
 * exit/SIGINT/SIGTERM hook for a process that ends without it, and the stale-run sweeper (run by
 * every `World.create` and by `scripts/test-cleanup`) for a process that was killed outright. The
 * sweeper only removes runs recorded in /run/zmesh-test whose owner PID is dead.
 *
 * @example
 * ```ts
 * import test from 'ava';
 * import { ping, tcpTransfer, waitFor } from '../harness/index.js';
 * import { worldFor } from '../harness/ava.js';
 *
 * test('a host behind a NAT reaches the server', async (t) => {
 *   const w = await worldFor(t);                           // torn down after the test, pass or fail
 *   const host = await w.namespace('host');                 // netns "zt3kq7host", lo up
 *   const nat = await w.natRouter('nat', { outside: 'wan' });
 *   const server = await w.namespace('srv');
 *   await w.link(host, 'eth0', nat, 'lan', { addressA: '10.0.0.2/24', addressB: '10.0.0.1/24' });
 *   await w.link(nat, 'wan', server, 'eth0', { addressA: '198.51.100.1/24', addressB: '198.51.100.10/24' });
 *   await host.addRoute('default', { via: '10.0.0.1' });
 *
 *   const p = await ping(host, '198.51.100.10', { count: 3 });
 *   t.is(p.loss, 0);
 *   const r = await tcpTransfer({ server, client: host, connectTo: '198.51.100.10', bytes: 1 << 20 });
 *   t.true(r.intact);
 *   t.is(r.peerAddress, '198.51.100.1');                    // the server sees the NAT's address
 *
 *   const daemon = host.spawn('ncat', ['-l', '-k', '9000']); // stopped at teardown
 *   await waitFor(async () => (await host.exec('ss', ['-tln'])).stdout.includes(':9000'), { what: 'ncat listening' });
 * });
 * ```
 */
export { World, type WorldOptions, type LinkOptions, type RouterOptions, type NatRouterOptions } from './world.js';
export { Namespace, type RouteOptions, type LinkInfo } from './namespace.js';
export { BackgroundProcess, isProcessAlive, processStartTime, type ExitStatus, type SpawnOptions } from './process.js';
export { runCommand, describeCommand, type CommandOptions, type CommandResult } from './command.js';
export { waitFor, type WaitOptions } from './wait.js';
export { ping, parsePing, type PingOptions, type PingResult } from './ping.js';
export { tcpTransfer, type TransferOptions, type TransferResult } from './transfer.js';
export {
  DEFAULT_RUN_DIR,
  sweepStaleRuns,
  listRuns,
  namespacesWithPrefix,
  type RunRecord,
  type SweepReport,
  type SweptRun,
} from './runs.js';
export { randomRunPrefix, checkIfname, MAX_IFNAME_BYTES } from './names.js';
export { systemTool, SYSTEM_DIRS } from './system-tools.js';
export { HarnessError, type HarnessErrorCode } from './errors.js';
export { interceptNextSignal } from './exit-hooks.js';
export { spawnWgd, type WgdProcess, type WgdSpawnOptions } from './wgd.js';
