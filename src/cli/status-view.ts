/**
 * `zmesh status`'s model and screen: what networkd and provisiond answer, judged (what makes the
 * node unhealthy) and laid out for a 100-column terminal. Pure: the command (status.ts) fetches.
 */
import type { HealthView, NetworkView, PeerView, WorkloadView } from '../networkd/views.js';
import { formatTable } from './table.js';

/** A peer whose last handshake is older than this, having had one, is down (WireGuard re-keys every 2 min). */
export const STALE_HANDSHAKE_SECONDS = 180;
/** Failed tasks this recent make the node unhealthy; older ones are history. */
export const FAILED_TASK_WINDOW_MS = 60 * 60 * 1000;

/** What the screen reads of networkd's answers (src/networkd/views.ts, the API's contract). */
export type NetworkdHealth = Pick<HealthView, 'node' | 'pid' | 'wg' | 'lastReconcile'>;
export type PeerStatus = PeerView;
export type NetworkStatus = Pick<
  NetworkView,
  'network' | 'revision' | 'subnet' | 'role' | 'hidden' | 'listenPort' | 'nrExists' | 'liveError' | 'failover'
> & {
  readonly device: { readonly peers: readonly PeerView[] } | null;
  readonly workloads: readonly Pick<WorkloadView, 'workload' | 'ip' | 'netns'>[];
};

export interface FailedTask {
  readonly id: string;
  readonly type: string;
  readonly network: string;
  readonly finishedAt: string | null;
  readonly error: unknown;
}

export interface ProvisiondStatus {
  readonly pid: number;
  readonly tasks: Readonly<Record<string, number>>;
  readonly failed: readonly FailedTask[];
  readonly store: {
    readonly connected: boolean;
    readonly cursor: number;
    readonly revisions: readonly { network: string; published: number; applied: number }[];
  } | null;
}

export interface NodeStatus {
  readonly networkd:
    | { readonly health: NetworkdHealth; readonly networks: readonly NetworkStatus[] }
    | { readonly error: string };
  readonly provisiond: ProvisiondStatus | { readonly error: string } | null;
  /** Empty: healthy. */
  readonly problems: readonly string[];
}

/** What is wrong, each in one line naming where. */
export function judge(status: Omit<NodeStatus, 'problems'>, now = Date.now()): string[] {
  const problems: string[] = [];
  const nd = status.networkd;
  if ('error' in nd) problems.push(`networkd: ${nd.error}`);
  else {
    for (const error of nd.health.lastReconcile?.errors ?? []) problems.push(`last reconcile: ${error}`);
    for (const n of nd.networks) {
      if (!n.nrExists || !n.device)
        problems.push(`network ${n.network}: its network resource is missing${n.liveError ? ` (${n.liveError})` : ''}`);
      for (const aggregator of n.failover?.aggregators ?? []) {
        if (n.failover?.up[aggregator] === false)
          problems.push(
            `network ${n.network}: aggregator ${aggregator} is down (relaying through ${n.failover.current})`,
          );
      }
      for (const p of n.device?.peers ?? []) {
        if (p.lastHandshakeAgeSeconds !== null && p.lastHandshakeAgeSeconds >= STALE_HANDSHAKE_SECONDS) {
          problems.push(
            `network ${n.network}: no handshake with ${p.node ?? p.publicKey} for ${age(p.lastHandshakeAgeSeconds)}`,
          );
        }
      }
    }
  }
  const pd = status.provisiond;
  if (pd && 'error' in pd) problems.push(`provisiond: ${pd.error}`);
  else if (pd) {
    for (const t of pd.failed) {
      if (t.finishedAt !== null && now - Date.parse(t.finishedAt) <= FAILED_TASK_WINDOW_MS)
        problems.push(`task ${t.id} (${t.type} ${t.network}) failed: ${errorText(t.error)}`);
    }
    if (pd.store && !pd.store.connected) problems.push('store: not connected (the agent is waiting for it)');
  }
  return problems;
}

function errorText(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message.slice(0, 200) : 'unknown error';
}

export function age(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  if (seconds < 172_800)
    return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `  aggregators: alpha DOWN, bravo up (current); last switch alpha → bravo (down) at …` */
function failoverLine(failover: NonNullable<NetworkStatus['failover']>): string {
  const states = failover.aggregators.map((a) => {
    const up = failover.up[a];
    const state = up === undefined ? '?' : up ? 'up' : 'DOWN';
    return `${a} ${state}${a === failover.current ? ' (current)' : ''}`;
  });
  const last = failover.switches.at(-1);
  const switched = last ? `; last switch ${last.from} → ${last.to} (${last.reason}) at ${last.at}` : '';
  return `  aggregators: ${states.join(', ')}${switched}`;
}

/** The screen: a header, per network its peers and workloads, tasks, store, and the verdict. */
export function renderStatus(status: NodeStatus): string {
  const out: string[] = [];
  const nd = status.networkd;
  if ('error' in nd) out.push(`networkd: UNREACHABLE (${nd.error})`);
  else {
    const h = nd.health;
    const wg = h.wg.backend === 'kernel' ? 'kernel WireGuard' : `userspace WireGuard, wgd pid ${h.wg.wgdPid ?? '-'}`;
    out.push(`node ${h.node}: networkd pid ${h.pid} (${wg})`);
    const r = h.lastReconcile;
    out.push(
      r
        ? `last reconcile: ${r.steps} step(s), ${r.networks} network(s), ${r.ms} ms, ${r.errors.length === 0 ? 'no errors' : `${r.errors.length} error(s)`}`
        : 'last reconcile: none yet',
    );
    for (const n of nd.networks) {
      out.push('');
      const roles = [n.role.aggregator ? 'aggregator' : '', n.role.exit ? 'exit' : '', n.hidden ? 'hidden' : ''].filter(
        Boolean,
      );
      const role = roles.length > 0 ? roles.join(', ') : 'member';
      out.push(
        `network ${n.network} (rev ${n.revision})  ${n.subnet}  ${role}  port ${n.listenPort ?? '-'}  NR ${n.nrExists && n.device ? 'up' : 'DOWN'}`,
      );
      if (n.failover) out.push(failoverLine(n.failover));
      const peers = n.device?.peers ?? [];
      if (peers.length > 0) {
        const rows = peers.map((p) => [
          `  ${p.node ?? `${p.publicKey.slice(0, 10)}…`}`,
          p.endpoint ?? '(roaming)',
          p.lastHandshakeAgeSeconds !== null && p.lastHandshakeAgeSeconds >= STALE_HANDSHAKE_SECONDS
            ? `${age(p.lastHandshakeAgeSeconds)} STALE`
            : age(p.lastHandshakeAgeSeconds),
          bytes(p.rxBytes),
          bytes(p.txBytes),
        ]);
        out.push(formatTable(['  PEER', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX'], rows).trimEnd());
      } else out.push('  no peers');
      if (n.workloads.length > 0)
        out.push(
          formatTable(
            ['  WORKLOAD', 'IP', 'NETNS'],
            n.workloads.map((w) => [`  ${w.workload}`, w.ip, w.netns]),
          ).trimEnd(),
        );
    }
  }
  out.push('');
  const pd = status.provisiond;
  if (pd === null) out.push('provisiond: not asked (--provisiond-socket none)');
  else if ('error' in pd) out.push(`provisiond: UNREACHABLE (${pd.error})`);
  else {
    const t = pd.tasks;
    out.push(
      `provisiond pid ${pd.pid}: tasks ${t['pending'] ?? 0} pending, ${t['running'] ?? 0} running, ${t['succeeded'] ?? 0} succeeded, ${t['failed'] ?? 0} failed`,
    );
    if (pd.store) {
      const behind = pd.store.revisions.filter((r) => r.applied < r.published);
      out.push(
        `store: ${pd.store.connected ? 'connected' : 'NOT CONNECTED'}, cursor ${pd.store.cursor}, ${pd.store.revisions.length} network(s), ${behind.length} behind`,
      );
      for (const r of behind) out.push(`  ${r.network}: applied ${r.applied}, published ${r.published}`);
    }
  }
  out.push('');
  out.push(
    status.problems.length === 0
      ? 'health: OK'
      : `health: UNHEALTHY\n${status.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  return `${out.join('\n')}\n`;
}
