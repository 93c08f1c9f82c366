// The reachability matrix between workloads: one short ping per ordered pair, run in parallel
// but never more than a few at once (the machine is shared), each with a hard deadline, so a
// blocked pair costs its timeout and nothing more.
import { REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX } from '../wg/constants.js';
import { ping } from './harness/ping.js';
import type { Namespace } from './harness/namespace.js';

/**
 * A pair's default deadline: long enough for one handshake retry. Two WireGuard peers that first
 * talk at the same instant both initiate; each gives up its own initiation to answer the other's
 * (one handshake state per peer, as in the kernel and wireguard-go), so both answers are refused
 * and they connect on the retry, REKEY_TIMEOUT plus jitter later. A reachable pair still ends as
 * soon as its pings are answered; only a blocked one costs the whole deadline.
 */
export const FIRST_CONTACT_DEADLINE_MS = REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX + 2_000;

export interface MatrixMember {
  /** Label in the matrix (e.g. "alpha/net1"). */
  readonly label: string;
  readonly ns: Namespace;
  readonly ip: string;
}

export interface PairResult {
  readonly from: string;
  readonly to: string;
  readonly reachable: boolean;
  /** Median round trip of the answered pings, ms (null when none answered). */
  readonly rttMs: number | null;
}

export interface MatrixOptions {
  /** Pings per pair (default 2; the pair is reachable if any is answered). */
  count?: number;
  /** Deadline per pair (default FIRST_CONTACT_DEADLINE_MS). */
  timeoutMs?: number;
  /** Pairs probed at once (default 4). */
  concurrency?: number;
}

/** Runs `jobs` with at most `limit` in flight; results in input order. */
export async function boundedAll<T>(jobs: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** Every ordered pair of distinct endpoints (or the pairs given). */
export async function reachabilityMatrix(
  endpoints: readonly MatrixMember[],
  opts: MatrixOptions = {},
): Promise<PairResult[]> {
  const pairs: Array<[MatrixMember, MatrixMember]> = [];
  for (const a of endpoints) for (const b of endpoints) if (a !== b) pairs.push([a, b]);
  return probePairs(pairs, opts);
}

export async function probePairs(
  pairs: ReadonlyArray<readonly [MatrixMember, MatrixMember]>,
  opts: MatrixOptions = {},
): Promise<PairResult[]> {
  const count = opts.count ?? 2;
  const timeoutMs = opts.timeoutMs ?? FIRST_CONTACT_DEADLINE_MS;
  return boundedAll(
    pairs.map(([a, b]) => async (): Promise<PairResult> => {
      const r = await ping(a.ns, b.ip, { count, timeoutMs, intervalMs: 200 });
      const sorted = [...r.rttsMs].sort((x, y) => x - y);
      const median = sorted.length ? (sorted[Math.floor(sorted.length / 2)] as number) : null;
      return { from: a.label, to: b.label, reachable: r.received > 0, rttMs: median };
    }),
    opts.concurrency ?? 4,
  );
}

/** The matrix as text: rows are sources, columns destinations; "ok" / "--" / "·" (self). */
export function formatMatrix(labels: readonly string[], results: readonly PairResult[]): string {
  const cell = (from: string, to: string): string => {
    if (from === to) return '·';
    const r = results.find((x) => x.from === from && x.to === to);
    if (!r) return '?';
    return r.reachable ? 'ok' : '--';
  };
  const width = Math.max(4, ...labels.map((l) => l.length));
  const pad = (s: string) => s.padEnd(width);
  const lines = [`${pad('from \\ to')}  ${labels.map(pad).join('  ')}`];
  for (const from of labels) lines.push(`${pad(from)}  ${labels.map((to) => pad(cell(from, to))).join('  ')}`);
  return lines.join('\n');
}
