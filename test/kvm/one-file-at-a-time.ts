// The guest's test files run one at a time. ava starts them concurrently, but in the guest they
// share one emulated kernel and its rtnl lock: removing a device with thousands of peers holds
// that lock for tens of seconds under emulation, and the other file's `ip netns add` or `nft -f`
// then outlives every command deadline. Each file takes this lock in its before hook and gives
// it back in its after.always hook.
//
// The lock is a directory in the guest's /tmp (fresh at every boot) holding the owner's PID, so
// a lock left by a worker that died is taken over instead of waited for.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive, waitFor } from '../harness/index.js';

const LOCK = join(tmpdir(), 'zmesh-kvm-test-file.lock');

function ownerOf(): number | null {
  try {
    return Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    return null;
  }
}

function tryTake(): boolean {
  try {
    mkdirSync(LOCK);
  } catch {
    const owner = ownerOf();
    // A dead owner's lock (pid written or not yet: a just-made directory has none for an instant).
    if (owner !== null && owner > 0 && !isProcessAlive(owner)) rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
  writeFileSync(join(LOCK, 'pid'), String(process.pid));
  return true;
}

/** Waits (polling: a lock directory has no event to await) until this file may run; resolves to the release. */
export async function oneFileAtATime(timeoutMs: number): Promise<() => void> {
  await waitFor(async () => tryTake(), { what: 'the other guest test file to finish', timeoutMs, intervalMs: 500 });
  return () => {
    if (ownerOf() === process.pid) rmSync(LOCK, { recursive: true, force: true });
  };
}
