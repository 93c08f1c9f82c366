/**
 * Where a soak's ping loss fell: each lost request's send time against the windows of the
 * operations (from the operation's start to its end, the end of a wgd kill or a key rotation
 * being the moment every flow answered again). A loss within `marginMs` of a window counts as
 * that window's; a loss in several windows counts for the first that excuses it, else the first.
 * Each loss keeps its flow, so an operation that may lose a bounded number of pings per flow (a
 * key rotation) or only on some flows (a service move, on the flow to the service) is checked
 * against that bound, not excused wholesale.
 */
export interface OpWindow {
  readonly op: string;
  readonly from: number;
  to: number;
  ok: boolean;
  error?: string;
}

/** One lost ping: the flow it belongs to and when it was sent (ms since the epoch). */
export interface LostPing {
  readonly flow: string;
  readonly at: number;
}

export const OUTSIDE = 'outside any operation';

export interface LossAttribution {
  /** Lost pings per operation name; OUTSIDE for those in no window. */
  readonly byOp: Map<string, number>;
  /** Per window (by identity): its lost pings per flow. */
  readonly byWindow: Map<OpWindow, Map<string, number>>;
  /** Lost pings in no window, per flow. */
  readonly outside: Map<string, number>;
}

export function attributeLoss(
  lost: readonly LostPing[],
  windows: readonly OpWindow[],
  excused: (op: string) => boolean,
  marginMs: number,
): LossAttribution {
  const byOp = new Map<string, number>();
  const byWindow = new Map<OpWindow, Map<string, number>>();
  const outside = new Map<string, number>();
  const bump = (m: Map<string, number>, key: string): void => {
    m.set(key, (m.get(key) ?? 0) + 1);
  };
  for (const { flow, at } of lost) {
    const hits = windows.filter((w) => at >= w.from - marginMs && at <= w.to + marginMs);
    const window = hits.find((w) => excused(w.op)) ?? hits[0];
    bump(byOp, window?.op ?? OUTSIDE);
    if (!window) {
      bump(outside, flow);
      continue;
    }
    const flows = byWindow.get(window) ?? new Map<string, number>();
    byWindow.set(window, flows);
    bump(flows, flow);
  }
  return { byOp, byWindow, outside };
}
