/**
 * Lets go of the TUNs of devices whose namespaces were deleted, several at once.
 *
 * Such a device's TUN is left to the kernel's cleanup of its namespace (dataplane.ts `leaveLink`),
 * which starts when the last fd holding the namespace is closed — here, the TUN's. Closed one at a
 * time, each close starts a cleanup of its own: the kernel takes the namespaces queued since its
 * last run and holds the RTNL lock while it unregisters their links, so the next device's persist
 * ioctl (which needs that lock too) waits for it, and the next close starts another run. Tearing
 * down 100 NRs so took 2.6 s in wgd alone (ioctls of 80–150 ms, one namespace per run). The fds
 * of devices closed within a short window are closed together instead: one cleanup run takes all
 * their namespaces.
 */
import { native } from '../native/binding.js';

/** Quiet time after the last release before the batch is closed (a teardown's deletes arrive 1–25 ms apart, by load). */
const QUIET_MS = 25;
/** Longest a held TUN waits for its batch, however busy the stream of releases. */
const MAX_WAIT_MS = 250;

interface Batch {
  readonly fds: number[];
  readonly started: number;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  timer: NodeJS.Timeout | null;
}

let current: Batch | null = null;

/**
 * Closes `fd` (an fd holding a left TUN) with the others released within the window; resolves
 * once it is closed, after which the namespace is the kernel's to destroy.
 */
export function releaseHeldTun(fd: number): Promise<void> {
  if (current === null) {
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    current = { fds: [], started: performance.now(), done, resolve, timer: null };
  }
  const batch = current;
  batch.fds.push(fd);
  if (batch.timer) clearTimeout(batch.timer);
  const wait = Math.max(0, Math.min(QUIET_MS, batch.started + MAX_WAIT_MS - performance.now()));
  batch.timer = setTimeout(() => flush(batch), wait);
  return batch.done;
}

/** Closes the fds released so far without waiting for the window (a caller that knows its burst is over). */
export function releaseHeldTunsNow(): void {
  if (current === null) return;
  if (current.timer) clearTimeout(current.timer);
  flush(current);
}

function flush(batch: Batch): void {
  if (current === batch) current = null;
  for (const fd of batch.fds) {
    try {
      native().closeFd(fd);
    } catch {
      // Already closed (cannot happen: the fd is ours alone); nothing else to let go.
    }
  }
  batch.resolve();
}
