/**
 * Which network namespace a workload's `netns` path names, and where a workload may never go.
 *
 * A path is only a name: `/proc/PID/ns/net` of the node's networkd, `/run/netns/<P>ndmz` or
 * `/proc/1/ns/net` all pass as "an absolute path of a network namespace". So a namespace is
 * compared by what the kernel says it is — the device and inode of the nsfs file — never by its
 * path, against the namespaces networkd must never put a workload's veth and default route into:
 * the root (init) namespace, networkd's own, wgd's, the ndmz and every NR (and those of other
 * workloads, which the service checks against its store).
 *
 * The identity is also kept with the workload: a stored `/proc/PID/ns/net` names another
 * namespace once the PID is reused (or the process moved), and reconcile must then release the
 * workload rather than re-attach into the stranger. For /proc/PID paths the process's start time
 * is kept too, so a reused PID is told apart even from a namespace that got the old inode number.
 */
import { statSync } from 'node:fs';
import { processStartTime } from '../common/process-start.js';
import { invalid } from './errors.js';

export interface NetnsIdentity {
  /** st_dev and st_ino of the namespace file, as decimal strings (64-bit). */
  readonly dev: string;
  readonly ino: string;
  /** Start time (clock ticks since boot) of the process a /proc/PID path goes through; null for other paths. */
  readonly processStart: string | null;
}

/** A namespace no workload may be attached in, and what it is (for the error). */
export interface ForbiddenNamespace {
  readonly path: string;
  readonly what: string;
}

/** The namespaces of this machine that are never a workload's, whatever networkd's configuration. */
export const ROOT_NETNS_PATH = '/proc/1/ns/net';
export const OWN_NETNS_PATH = '/proc/self/ns/net';

const PROC_PID_PATH = /^\/proc\/(\d+)\//;

/** The identity of the namespace `path` names now; EINVAL naming `field` when there is none. */
export function readNetnsIdentity(path: string, field = 'netns'): NetnsIdentity {
  let stat;
  try {
    stat = statSync(path, { bigint: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid(
      field,
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `${path} does not exist`
        : `${path} cannot be read (${code ?? 'error'})`,
    );
  }
  const pid = PROC_PID_PATH.exec(path)?.[1];
  return {
    dev: String(stat.dev),
    ino: String(stat.ino),
    processStart: pid === undefined ? null : processStartTime(pid),
  };
}

/** The identity, or null when the path names nothing (now). */
export function tryNetnsIdentity(path: string): NetnsIdentity | null {
  try {
    return readNetnsIdentity(path);
  } catch {
    return null;
  }
}

/** Whether two identities are one namespace (device and inode). */
export function sameNamespace(a: NetnsIdentity, b: NetnsIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Whether `now` is still what was recorded at attach time: the same namespace, reached through
 * the same process when the path goes through /proc/PID (a reused PID has another start time).
 */
export function sameHolder(recorded: NetnsIdentity, now: NetnsIdentity): boolean {
  if (!sameNamespace(recorded, now)) return false;
  return recorded.processStart === null || now.processStart === null || recorded.processStart === now.processStart;
}

/**
 * The inode of the init network namespace, fixed by the kernel (PROC_NET_INIT_INO, 0xEFFFFFF9):
 * known even where /proc/1/ns/net cannot be read (a container's PID 1 of another owner answers EACCES).
 */
export const INIT_NETNS_INODE = String(0xeffffff9);
const ROOT = 'the root (init) network namespace';

/** Whether `identity` is the init namespace: its fixed inode on nsfs, or what /proc/1/ns/net names. */
export function isInitNamespace(identity: NetnsIdentity): boolean {
  const nsfs = tryNetnsIdentity(OWN_NETNS_PATH);
  if (nsfs !== null && identity.dev === nsfs.dev && identity.ino === INIT_NETNS_INODE) return true;
  const init = tryNetnsIdentity(ROOT_NETNS_PATH);
  return init !== null && sameNamespace(init, identity);
}

/** Forbidden namespaces with what their paths name now (those naming nothing left out), read once for many checks. */
export interface ResolvedForbidden {
  readonly identity: NetnsIdentity;
  readonly what: string;
}

export function resolveForbidden(forbidden: readonly ForbiddenNamespace[]): ResolvedForbidden[] {
  const resolved: ResolvedForbidden[] = [];
  const root = tryNetnsIdentity(ROOT_NETNS_PATH);
  if (root !== null) resolved.push({ identity: root, what: ROOT });
  for (const candidate of forbidden) {
    const identity = tryNetnsIdentity(candidate.path);
    if (identity !== null) resolved.push({ identity, what: candidate.what });
  }
  return resolved;
}

/** What `identity` is among the forbidden namespaces (the root one always is), or null when it is none of them. */
export function forbiddenMatch(
  identity: NetnsIdentity,
  forbidden: readonly ForbiddenNamespace[] | readonly ResolvedForbidden[],
): string | null {
  if (isInitNamespace(identity)) return ROOT;
  for (const candidate of forbidden) {
    const other = 'identity' in candidate ? candidate.identity : tryNetnsIdentity(candidate.path);
    if (other !== null && sameNamespace(identity, other)) return candidate.what;
  }
  return null;
}

/** The namespaces of the node itself besides the root one: networkd's own, and wgd's when it runs. */
export function nodeNamespaces(wgdPid: number | null): ForbiddenNamespace[] {
  const list: ForbiddenNamespace[] = [{ path: OWN_NETNS_PATH, what: "networkd's own network namespace" }];
  if (wgdPid !== null) list.push({ path: `/proc/${wgdPid}/ns/net`, what: "wgd's network namespace" });
  return list;
}
