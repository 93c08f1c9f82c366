/**
 * Where a soak's ping loss fell: each lost request's send time against the windows of the
 * operations (from the operation's start to its end, the end of a wgd kill being the moment
 * every flow answered again). A loss within `marginMs` of a window counts as that window's;
 * a loss in several windows counts for the first that excuses it, else the first.
 */
export interface OpWindow {
  readonly op: string;
  readonly from: number;
  to: number;
  ok: boolean;
  error?: string;
}

export const OUTSIDE = 'outside any operation';

export function attributeLoss(
  lostAt: readonly number[],
  windows: readonly OpWindow[],
  excused: (op: string) => boolean,
  marginMs: number,
): Map<string, number> {
  const byOp = new Map<string, number>();
  for (const at of lostAt) {
    const hits = windows.filter((w) => at >= w.from - marginMs && at <= w.to + marginMs);
    const key = (hits.find((w) => excused(w.op)) ?? hits[0])?.op ?? OUTSIDE;
    byOp.set(key, (byOp.get(key) ?? 0) + 1);
  }
  return byOp;
}
