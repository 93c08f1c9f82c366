/**
 * Releases of workloads handed over while networkd was not answering: zmesh-cni's DEL must not
 * fail the runtime when networkd is down, and must not lose the release either. It writes one
 * small file per release into a directory beside networkd's socket (`<socket>.releases/`, so both
 * sides find it from the one path they share), durably, before it answers; networkd drains the
 * directory after its first reconcile and at every periodic one. A release is named by a hash of
 * its network and workload, so the same DEL spooled twice is one file. The directory is bounded:
 * past MAX_SPOOLED_RELEASES, spooling refuses and the runtime is told to try again later.
 *
 * Light on purpose (node: modules only): the CNI plugin imports it on its start-up path.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isTemporaryName, removeFileDurably, writeFileAtomic } from '../common/atomic-file.js';

export const MAX_SPOOLED_RELEASES = 1024;

export interface SpooledRelease {
  readonly network: string;
  readonly workload: string;
}

/** The spool directory of the networkd serving `socketPath`. */
export function releaseSpoolDir(socketPath: string): string {
  return `${socketPath}.releases`;
}

const RELEASE_FILE = /^[0-9a-f]{32}\.json$/;

function fileOf(release: SpooledRelease): string {
  return `${createHash('sha256').update(`${release.network}\0${release.workload}`).digest('hex').slice(0, 32)}.json`;
}

export type SpoolOutcome = 'spooled' | 'full';

/** Records `release` durably in `dir` (created 0700); 'full' when MAX_SPOOLED_RELEASES are waiting. */
export async function spoolRelease(
  dir: string,
  release: SpooledRelease,
  max = MAX_SPOOLED_RELEASES,
): Promise<SpoolOutcome> {
  // Not prepareDirectory: its sweep of temporaries would remove those of DELs spooling right now.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = fileOf(release);
  const waiting = readdirSync(dir).filter((name) => RELEASE_FILE.test(name));
  if (!waiting.includes(file) && waiting.length >= max) return 'full';
  await writeFileAtomic(
    join(dir, file),
    `${JSON.stringify({ network: release.network, workload: release.workload })}\n`,
  );
  return 'spooled';
}

/** The releases waiting in `dir`, each with its file (missing dir: none). Unreadable files are skipped. */
export function spooledReleases(dir: string): { release: SpooledRelease; file: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found: { release: SpooledRelease; file: string }[] = [];
  for (const name of names.sort()) {
    if (isTemporaryName(name) || !RELEASE_FILE.test(name)) continue;
    try {
      const value = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Partial<SpooledRelease>;
      if (typeof value.network === 'string' && typeof value.workload === 'string') {
        found.push({ release: { network: value.network, workload: value.workload }, file: join(dir, name) });
      }
    } catch {
      // A file that is not a release: left alone, for an operator to look at.
    }
  }
  return found;
}

/**
 * Carries out every waiting release with `release` (which resolves true when the workload is
 * gone, whether released now or already); a file is removed only after its release is done, so
 * one that fails stays for the next drain. Resolves to the releases done.
 */
export async function drainReleaseSpool(
  dir: string,
  release: (r: SpooledRelease) => Promise<boolean>,
): Promise<SpooledRelease[]> {
  const done: SpooledRelease[] = [];
  for (const { release: r, file } of spooledReleases(dir)) {
    if (!(await release(r))) continue;
    await removeFileDurably(file);
    done.push(r);
  }
  return done;
}
