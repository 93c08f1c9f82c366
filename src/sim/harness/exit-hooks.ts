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

function onSignal(signal: NodeJS.Signals): void {
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
