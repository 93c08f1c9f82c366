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
}

export class ContinuousPing {
  private constructor(private readonly proc: BackgroundProcess) {}

  /** Starts `ping -i interval address` in `from`; resolves once the first answer arrived. */
  static async start(
    from: Namespace,
    address: string,
    intervalMs = 100,
    firstAnswerTimeoutMs = 5_000,
  ): Promise<ContinuousPing> {
    const proc = from.spawn('ping', ['-n', '-i', (intervalMs / 1000).toFixed(3), address]);
    const p = new ContinuousPing(proc);
    try {
      await proc.waitForOutput(/icmp_seq=\d+/, { timeoutMs: firstAnswerTimeoutMs });
    } catch (e) {
      await proc.stop({ graceMs: 200 });
      throw e;
    }
    return p;
  }

  /** The highest sequence number answered so far (0: none yet), while the ping runs. */
  lastAnswered(): number {
    return Math.max(0, ...[...this.proc.stdout.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
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
    return flowReport(this.proc.stdout);
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

/** Parses iputils ping output into answered/lost sequence numbers. */
export function flowReport(stdout: string): FlowReport {
  const seqs = new Set([...stdout.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
  const last = Math.max(0, ...seqs);
  const lost: number[] = [];
  for (let s = 1; s <= last; s++) if (!seqs.has(s)) lost.push(s);
  return { sent: last, answered: seqs.size, lost };
}
