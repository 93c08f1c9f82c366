/**
 * What a long run could leak, counted so that a census at the start and one at the end compare:
 * per node the links of its host, ndmz and NR namespaces (the NR's less one per attached
 * workload: a workload's veth end lives there), the nft tables of each, and the UAPI sockets in
 * networkd's wireguard dir; and the run's processes by command name (a restarted daemon keeps
 * its name, a leaked helper adds one). Namespaces by role, not name: an NR namespace
 * re-created when its node rejoins is the same NR.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './harness/command.js';
import { pidsInNamespace } from './harness/runs.js';
import { systemTool } from './harness/system-tools.js';
import type { SimNode } from './node.js';

export type NodeCensus = Record<string, number | string>;

async function inNamespace(ns: string, cmd: string, args: readonly string[]): Promise<string> {
  const r = await runCommand(systemTool('ip'), ['netns', 'exec', ns, systemTool(cmd), ...args]);
  return r.stdout;
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** The node's countable resources; `workloads`: how many its networkd holds attached now. */
export async function nodeCensus(node: SimNode, workloads: number): Promise<NodeCensus> {
  const out: NodeCensus = {};
  const roles: [string, string][] = [['host', node.host.name]];
  for (const ns of node.ownedNamespaces()) roles.push([ns.endsWith('ndmz') ? 'ndmz' : `nr`, ns]);
  for (const [role, ns] of roles) {
    const links = lines(await inNamespace(ns, 'ip', ['-o', 'link', 'show'])).length;
    out[`${role} links`] = role === 'nr' ? links - workloads : links;
    // One sorted line: a table added and another gone is a change as well.
    out[`${role} nft tables`] = lines(await inNamespace(ns, 'nft', ['list', 'tables']))
      .sort()
      .join(', ');
  }
  const uapi = join(node.stateDir, 'networkd', 'wireguard');
  out['UAPI sockets'] = existsSync(uapi) ? readdirSync(uapi).filter((f) => f.endsWith('.sock')).length : 0;
  return out;
}

/** "field start→end" per field that differs between two censuses of one node. */
export function censusChanges(start: NodeCensus, end: NodeCensus): string[] {
  const fields = new Set([...Object.keys(start), ...Object.keys(end)]);
  return [...fields].filter((f) => start[f] !== end[f]).map((f) => `${f} ${start[f] ?? '-'}→${end[f] ?? '-'}`);
}

/**
 * Command name → count over the run's processes: every descendant of `root` (read from /proc) and
 * every process in the run's namespaces (`ip netns pids`), which holds those a SIGKILL orphaned
 * out of the tree (a wgd whose networkd was killed lives on, reparented to init).
 */
export function runProcesses(namespaces: readonly string[], root: number = process.pid): Map<string, number> {
  const children = new Map<number, number[]>();
  const comm = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      comm.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const pids = new Set<number>(namespaces.flatMap((ns) => pidsInNamespace(ns)));
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    pids.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  const counts = new Map<string, number>();
  for (const pid of pids) {
    const name = comm.get(pid);
    if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/**
 * "name start→end" per command with more processes at the end than at the start: a leak. Fewer is
 * none (tsx's esbuild service is started only by a process that had to compile; a daemon that
 * should run is checked by the soak's other checks).
 */
export function processesGained(start: Map<string, number>, end: Map<string, number>): string[] {
  return [...end.keys()]
    .filter((n) => (end.get(n) ?? 0) > (start.get(n) ?? 0))
    .map((n) => `${n} ${start.get(n) ?? 0}→${end.get(n) ?? 0}`);
}
