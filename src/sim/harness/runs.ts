// The run registry and the stale-run sweeper. Each live world records its
// prefix and owner (PID + process start time) in RUN_DIR/<prefix>.pid, and the
// PIDs it spawns in RUN_DIR/<prefix>.procs. A run whose owner is gone (killed,
// crashed past every exit hook) is "stale": the sweeper kills its recorded
// processes and any process inside its namespaces, deletes those namespaces
// and its record. It touches ONLY prefixes recorded here, and never a run
// whose owner is alive, so concurrent test runs and anything else on the
// machine are safe.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive, processStartTime } from './process.js';
import { systemTool } from './system-tools.js';

export const DEFAULT_RUN_DIR = '/run/zmesh-test';
const NETNS_DIR = '/run/netns';
const SWEEP_MARK = '.sweeping-';

export interface RunRecord {
  readonly prefix: string;
  readonly pid: number;
  /** Start time of the owner (ticks since boot), to tell a live owner from a reused PID. */
  readonly startTime: string | null;
  /** The record file (`<prefix>.pid`, or `<prefix>.sweeping-<pid>` while being swept). */
  readonly file: string;
}

export interface SweptRun {
  readonly prefix: string;
  readonly pid: number;
  readonly namespaces: readonly string[];
  readonly killedPids: readonly number[];
}

export interface SweepReport {
  readonly swept: readonly SweptRun[];
  /** Runs left alone because their owner is alive. */
  readonly live: readonly string[];
  /** One line per failed step; the sweep goes on after each. */
  readonly errors: readonly string[];
}

export type ClaimResult = 'claimed' | 'live' | 'stale';

/** Records this process as the owner of `prefix`. Atomic: exactly one claimant wins. */
export function claimPrefix(prefix: string, runDir = DEFAULT_RUN_DIR): ClaimResult {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const file = join(runDir, `${prefix}.pid`);
  try {
    writeFileSync(file, `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`, { flag: 'wx', mode: 0o644 });
    return 'claimed';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const rec = readRecord(runDir, `${prefix}.pid`);
  return rec && isProcessAlive(rec.pid, rec.startTime) ? 'live' : 'stale';
}

/** Notes a PID this run spawned, so a sweeper can end it if the run dies. */
export function recordSpawn(prefix: string, pid: number, runDir = DEFAULT_RUN_DIR): void {
  appendFileSync(join(runDir, `${prefix}.procs`), `${pid} ${processStartTime(pid) ?? ''}\n`);
}

/** Forgets the run (after its own teardown). */
export function releasePrefix(prefix: string, runDir = DEFAULT_RUN_DIR): void {
  rmSync(join(runDir, `${prefix}.pid`), { force: true });
  rmSync(join(runDir, `${prefix}.procs`), { force: true });
}

/** Every recorded run, live or not. */
export function listRuns(runDir = DEFAULT_RUN_DIR): RunRecord[] {
  let files: string[];
  try {
    files = readdirSync(runDir);
  } catch {
    return [];
  }
  const out: RunRecord[] = [];
  for (const f of files) {
    if (!f.endsWith('.pid') && !f.includes(SWEEP_MARK)) continue;
    const rec = readRecord(runDir, f);
    if (rec) out.push(rec);
  }
  return out;
}

function readRecord(runDir: string, file: string): RunRecord | null {
  const prefix = file.endsWith('.pid') ? file.slice(0, -4) : file.slice(0, file.indexOf(SWEEP_MARK));
  try {
    const [pidLine, startLine] = readFileSync(join(runDir, file), 'utf8').split('\n');
    const pid = Number(pidLine);
    if (!Number.isInteger(pid) || pid <= 0) return { prefix, pid: 0, startTime: null, file };
    return { prefix, pid, startTime: startLine || null, file };
  } catch {
    return null; // removed meanwhile
  }
}

/** Namespaces (under /run/netns) whose name starts with `prefix`. */
export function namespacesWithPrefix(prefix: string): string[] {
  try {
    return readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** PIDs of the processes inside the named namespace (`ip netns pids`). */
export function pidsInNamespace(name: string): number[] {
  try {
    const out = execFileSync(systemTool('ip'), ['netns', 'pids', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Deletes a namespace by name; its links go with it. Throws with ip's message on failure. */
export function deleteNamespaceSync(name: string): void {
  try {
    execFileSync(systemTool('ip'), ['netns', 'del', name], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`ip netns del ${name}: ${stderr || (e as Error).message}`);
  }
}

function killSync(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the leftovers of every recorded run whose owner is dead. With `dryRun`, reports what it
 * would remove and changes nothing. Never throws for one failed step: see `errors`.
 */
export function sweepStaleRuns(opts: { runDir?: string; dryRun?: boolean } = {}): SweepReport {
  const runDir = opts.runDir ?? DEFAULT_RUN_DIR;
  const runs = listRuns(runDir);
  const swept: SweptRun[] = [];
  const live: string[] = [];
  const errors: string[] = [];

  for (const run of runs) {
    // A record being swept is owned by its sweeper: alive means someone else is on it.
    const ownerPid = run.file.includes(SWEEP_MARK)
      ? Number(run.file.slice(run.file.indexOf(SWEEP_MARK) + SWEEP_MARK.length))
      : run.pid;
    const ownerStart = run.file.includes(SWEEP_MARK) ? null : run.startTime;
    if (ownerPid > 0 && isProcessAlive(ownerPid, ownerStart)) {
      live.push(run.prefix);
      continue;
    }
    // Namespaces of a longer recorded prefix that happens to start with this one are not ours.
    const longer = runs
      .filter((r) => r.prefix.length > run.prefix.length && r.prefix.startsWith(run.prefix))
      .map((r) => r.prefix);
    const namespaces = namespacesWithPrefix(run.prefix).filter((n) => !longer.some((p) => n.startsWith(p)));
    // Without a start time a recorded PID could have been reused by now: leave it.
    const recorded = readProcs(runDir, run.prefix)
      .filter((p) => p.startTime !== null && isProcessAlive(p.pid, p.startTime))
      .map((p) => p.pid);
    const inside = namespaces.flatMap(pidsInNamespace);
    const targets = [...new Set([...recorded, ...inside])].filter((p) => p !== process.pid);

    if (opts.dryRun) {
      swept.push({ prefix: run.prefix, pid: run.pid, namespaces, killedPids: targets });
      continue;
    }
    // Claim the record first (rename is atomic) so two sweepers never work on one run.
    const claimed = join(runDir, `${run.prefix}${SWEEP_MARK}${process.pid}`);
    try {
      renameSync(join(runDir, run.file), claimed);
    } catch {
      continue; // another sweeper claimed it first
    }
    const killed = targets.filter(killSync);
    for (const ns of namespaces) {
      try {
        deleteNamespaceSync(ns);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    rmSync(join(runDir, `${run.prefix}.procs`), { force: true });
    rmSync(claimed, { force: true });
    swept.push({ prefix: run.prefix, pid: run.pid, namespaces, killedPids: killed });
  }
  return { swept, live, errors };
}

function readProcs(runDir: string, prefix: string): Array<{ pid: number; startTime: string | null }> {
  let text = '';
  try {
    text = readFileSync(join(runDir, `${prefix}.procs`), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, start] = line.split(' ');
      return { pid: Number(pid), startTime: start || null };
    })
    .filter((p) => Number.isInteger(p.pid) && p.pid > 0);
}
