// ping(8) from inside a namespace, reported as numbers: how many were sent and
// answered, the loss, and each round-trip time. Loss is a result, not an
// error: a test that expects a blocked path asserts `loss === 1`.
import { checkAddress } from './addresses.js';
import { HarnessError } from './errors.js';
import type { Namespace } from './namespace.js';

export interface PingOptions {
  /** Echo requests to send (default 3). */
  count?: number;
  /** Overall deadline (default 5 s); ping stops then whatever it got. */
  timeoutMs?: number;
  /** Between requests (default 200 ms; below that needs root, which the harness has). */
  intervalMs?: number;
  /** ICMP payload size in bytes (default 56). */
  size?: number;
  /** Set the don't-fragment bit (path MTU tests). */
  dontFragment?: boolean;
}

export interface PingResult {
  readonly sent: number;
  readonly received: number;
  /** 0..1 */
  readonly loss: number;
  /** Round-trip times of the answered requests, in ms. */
  readonly rttsMs: readonly number[];
  /** ping's own error (e.g. "Network is unreachable") when it could not send at all. */
  readonly error?: string;
}

export async function ping(from: Namespace, address: string, opts: PingOptions = {}): Promise<PingResult> {
  checkAddress(address);
  const count = opts.count ?? 3;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 200;
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new HarnessError('INVALID_ARGUMENT', `ping count ${count} must be 1..10000`, { field: 'count' });
  }
  const args = [
    '-n',
    '-c',
    String(count),
    '-i',
    (intervalMs / 1000).toFixed(3),
    '-w',
    String(Math.max(1, Math.ceil(timeoutMs / 1000))),
  ];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.dontFragment) args.push('-M', 'do');
  args.push(address);
  // Exit 1 means "some or all lost": a result. Exit 2 is an error we report in the result too.
  const r = await from.exec('ping', args, { check: false, timeoutMs: timeoutMs + 5_000 });
  return parsePing(
    r.stdout,
    r.exitCode === 0 || r.exitCode === 1 ? undefined : r.stderr.trim() || `ping exited ${r.exitCode}`,
  );
}

/** Parses iputils ping output. Exported for its unit test. */
export function parsePing(stdout: string, error?: string): PingResult {
  const rttsMs = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const summary = stdout.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const sent = summary ? Number(summary[1]) : 0;
  const received = summary ? Number(summary[2]) : rttsMs.length;
  const loss = sent === 0 ? 1 : 1 - received / sent;
  return error === undefined ? { sent, received, loss, rttsMs } : { sent, received, loss, rttsMs, error };
}
