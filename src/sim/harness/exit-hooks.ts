// Last-resort cleanup when the process ends without a world's teardown having
// run: on 'exit' (normal end, process.exit, uncaught exception) and on
// SIGINT/SIGTERM. Only synchronous work is possible there, so each world
// provides teardownSync (SIGKILL its processes, delete its namespaces). Signal
// handlers are installed only while a world is alive, and after cleaning up
// the signal is re-raised so the process ends the way it would have.

export interface SyncTeardown {
  teardownSync(): void;
}

const live = new Set<SyncTeardown>();
let exitInstalled = false;
let signalsInstalled = false;

function runAll(): void {
  for (const w of [...live]) {
    try {
      w.teardownSync();
    } catch {
      // Nothing to report to in an exit hook; the stale-run sweeper covers what is left.
    }
    live.delete(w);
  }
}

let interceptor: ((signal: NodeJS.Signals) => void) | null = null;

/**
 * Lets a long-running program (the demo) answer the next SIGINT/SIGTERM itself, with an orderly
 * asynchronous teardown, instead of the synchronous SIGKILL cleanup. One signal only: a second
 * one (the user pressing Ctrl-C again) gets the synchronous cleanup and ends the process.
 * Returns a function that withdraws the interceptor.
 */
export function interceptNextSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  interceptor = handler;
  return () => {
    if (interceptor === handler) interceptor = null;
  };
}

function onSignal(signal: NodeJS.Signals): void {
  if (interceptor) {
    const handler = interceptor;
    interceptor = null;
    handler(signal);
    return;
  }
  runAll();
  uninstallSignals();
  process.kill(process.pid, signal);
}

function installSignals(): void {
  if (signalsInstalled) return;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  signalsInstalled = true;
}

function uninstallSignals(): void {
  if (!signalsInstalled) return;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  signalsInstalled = false;
}

export function registerForExit(w: SyncTeardown): void {
  live.add(w);
  if (!exitInstalled) {
    process.on('exit', runAll);
    exitInstalled = true;
  }
  installSignals();
}

export function unregisterForExit(w: SyncTeardown): void {
  live.delete(w);
  if (live.size === 0) uninstallSignals();
}
