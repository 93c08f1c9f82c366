// A ping that runs while something else happens (a node joins, networkd is killed), to prove
// that existing flows lose nothing. Loss is counted by sequence number: every request up to the
// last one answered must have been answered; the request in flight when it is stopped is not
// counted as lost.
import type { Namespace } from './harness/namespace.js';
import type { BackgroundProcess } from './harness/process.js';

export interface FlowReport {
  /** Requests up to the last answered one. */
  readonly sent: number;
  readonly answered: number;
  /** Sequence numbers with no answer, up to the last answered one. */
  readonly lost: readonly number[];
  /**
   * When each lost request was sent (ms since the epoch, same order as `lost`), estimated from
   * the nearest answer before it (ping -D stamps answers) plus the interval per request between.
   */
  readonly lostAt: readonly number[];
}

export class ContinuousPing {
  private constructor(
    private readonly proc: BackgroundProcess,
    private readonly intervalMs: number,
  ) {}

  /** Starts `ping -i interval address` in `from`; resolves once the first answer arrived. */
  static async start(
    from: Namespace,
    address: string,
    intervalMs = 100,
    firstAnswerTimeoutMs = 5_000,
  ): Promise<ContinuousPing> {
    // -D: each answer carries its arrival time, which places the lost requests between them in time.
    const proc = from.spawn('ping', ['-n', '-D', '-i', (intervalMs / 1000).toFixed(3), address]);
    const p = new ContinuousPing(proc, intervalMs);
    try {
      await proc.waitForOutput(/bytes from [^\n]*icmp_seq=\d+/, { timeoutMs: firstAnswerTimeoutMs });
    } catch (e) {
      await proc.stop({ graceMs: 200 });
      throw e;
    }
    return p;
  }

  /** The highest sequence number answered so far (0: none yet), while the ping runs. */
  lastAnswered(): number {
    // Answers only, as flowReport: an ICMP error line ("From X icmp_seq=N ...") answers nothing.
    return Math.max(0, ...[...this.proc.stdout.matchAll(/bytes from [^\n]*icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
  }

  /** Ends the ping and reports what it saw. */
  async stop(): Promise<FlowReport> {
    if (this.proc.running) {
      try {
        process.kill(this.proc.pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
    await this.proc.exited;
    return flowReport(this.proc.stdout, this.intervalMs);
  }

  /** The arrival time (ms since the epoch) of the latest answer so far; 0 before any. */
  lastAnswerAt(): number {
    return Math.max(0, ...answerTimes(this.proc.stdout).values());
  }
}

/** The longest run of consecutive lost requests: × the interval, the longest outage the flow saw. */
export function longestLossRun(report: FlowReport): number {
  let longest = 0;
  let run = 0;
  let previous = -2;
  for (const seq of report.lost) {
    run = seq === previous + 1 ? run + 1 : 1;
    previous = seq;
    longest = Math.max(longest, run);
  }
  return longest;
}

/** Sequence number → arrival time in ms of its answer, from `ping -D` lines. */
function answerTimes(stdout: string): Map<number, number> {
  const times = new Map<number, number>();
  for (const m of stdout.matchAll(/^\[(\d+(?:\.\d+)?)\] \d+ bytes from [^\n]*icmp_seq=(\d+)/gm)) {
    const seq = Number(m[2]);
    if (!times.has(seq)) times.set(seq, Number(m[1]) * 1000);
  }
  return times;
}

/**
 * Parses iputils ping output into answered/lost sequence numbers; with `ping -D` stamps also when
 * each lost request went out (NaN without stamps).
 */
export function flowReport(stdout: string, intervalMs = 1000): FlowReport {
  // Answers only: "From X icmp_seq=N Destination Host Unreachable" is no answer.
  const seqs = new Set([...stdout.matchAll(/bytes from [^\n]*icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
  const last = Math.max(0, ...seqs);
  const times = answerTimes(stdout);
  const stamped = [...times.keys()].sort((a, b) => a - b);
  const lost: number[] = [];
  const lostAt: number[] = [];
  for (let s = 1; s <= last; s++) {
    if (seqs.has(s)) continue;
    lost.push(s);
    const before = stamped.filter((x) => x < s).pop();
    const after = stamped.find((x) => x > s);
    // Sends keep the interval while answers are missing; an answer after the gap bounds the estimate.
    let at = before === undefined ? NaN : (times.get(before) as number) + (s - before) * intervalMs;
    if (after !== undefined) {
      const bound = (times.get(after) as number) - (after - s) * intervalMs;
      at = Number.isNaN(at) ? bound : Math.min(at, times.get(after) as number);
    }
    lostAt.push(at);
  }
  return { sent: last, answered: seqs.size, lost, lostAt };
}
