/**
 * The kernel side of attaching a workload: a veth whose NR end `wl-<hash6>` is a port of the
 * NR's br0 and whose other end, named as the workload asked (e.g. eth0), is created directly in
 * the workload's namespace with its address, MTU and default route via the NR's gateway.
 *
 * Every operation is idempotent (re-attaching an attached workload changes nothing and reports
 * so), which is what reconcile relies on. The workload's namespace is entered by path (nsenter),
 * so /run/netns/NAME and /proc/PID/ns/net both work. Tools run by absolute path.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { NetworkdError, conflict, invalid } from './errors.js';

export const WORKLOAD_MTU = 1420;
const IP = '/usr/sbin/ip';
const NSENTER = '/usr/bin/nsenter';
const NR_BRIDGE = 'br0';

export interface WorkloadLinkSpec {
  /** Path of the NR namespace (/run/netns/<P>n-<netId>). */
  readonly nrNetns: string;
  readonly link: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ip: string;
  readonly gateway: string;
  readonly mtu: number;
}

/** `wl-` + the first 6 hex digits of SHA-256(workload id): the NR end of its veth. */
export function workloadLinkName(workload: string): string {
  return `wl-${createHash('sha256').update(workload, 'utf8').digest('hex').slice(0, 6)}`;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(program: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: 10_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function failed(what: string, result: Run): NetworkdError {
  return new NetworkdError('EKERNEL', `${what}: ${result.stderr.trim().split('\n')[0] ?? `exit ${result.code}`}`);
}

async function ipIn(netns: string, args: readonly string[], what: string): Promise<Run> {
  const result = await run(NSENTER, [`--net=${netns}`, IP, ...args]);
  if (result.code !== 0) throw failed(what, result);
  return result;
}

/** Whether `path` is a network namespace we can enter (a missing one is the caller's 400). */
export function checkNetnsExists(path: string, field = 'netns'): void {
  if (!existsSync(path)) throw invalid(field, `${path} does not exist`);
  try {
    statSync(path);
  } catch {
    throw invalid(field, `${path} cannot be read`);
  }
}

async function linkExists(netns: string, name: string): Promise<boolean> {
  const result = await run(NSENTER, [`--net=${netns}`, IP, '-j', 'link', 'show', 'dev', name]);
  return result.code === 0;
}

/** Names of the workload veths (`wl-*`) in an NR. */
export async function listWorkloadLinks(nrNetns: string): Promise<string[]> {
  if (!existsSync(nrNetns)) return []; // no NR yet (its apply failed): nothing of ours in it
  const result = await ipIn(nrNetns, ['-j', 'link', 'show'], 'list links of the NR');
  const links = JSON.parse(result.stdout || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname).filter((name) => /^wl-[0-9a-f]{6}$/.test(name));
}

/**
 * Creates (or confirms) the workload's veth and its configuration. Resolves true when something
 * was created, false when everything already was as asked. A link named `ifname` in the workload
 * namespace that is not our veth's peer is a 409 naming `ifname`, and nothing is changed.
 */
export async function attachWorkloadLink(spec: WorkloadLinkSpec): Promise<boolean> {
  checkNetnsExists(spec.netns);
  let created = false;
  if (!(await linkExists(spec.nrNetns, spec.link))) {
    if (await linkExists(spec.netns, spec.ifname)) throw conflict('ifname', `${spec.ifname} already exists in ${spec.netns}`);
    await ipIn(spec.nrNetns, ['link', 'add', spec.link, 'mtu', String(spec.mtu), 'type', 'veth', 'peer', 'name', spec.ifname, 'netns', spec.netns, 'mtu', String(spec.mtu)], `create veth ${spec.link}`);
    created = true;
  }
  await ipIn(spec.nrNetns, ['link', 'set', spec.link, 'master', NR_BRIDGE, 'mtu', String(spec.mtu), 'up'], `attach ${spec.link} to ${NR_BRIDGE}`);
  const address = `${spec.ip}/24`;
  const present = await run(NSENTER, [`--net=${spec.netns}`, IP, '-j', 'addr', 'show', 'dev', spec.ifname]);
  if (present.code !== 0) throw failed(`read ${spec.ifname} in ${spec.netns}`, present);
  const info = JSON.parse(present.stdout || '[]') as { addr_info?: { family: string; local: string; prefixlen: number }[]; mtu?: number; operstate?: string; flags?: string[] }[];
  const current = (info[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  for (const other of current) {
    if (other !== address) {
      await ipIn(spec.netns, ['addr', 'del', other, 'dev', spec.ifname], `remove old address ${other}`);
      created = true;
    }
  }
  if (!current.includes(address)) {
    await ipIn(spec.netns, ['addr', 'add', address, 'dev', spec.ifname], `address ${spec.ifname}`);
    created = true;
  }
  if (info[0]?.mtu !== spec.mtu || !(info[0]?.flags ?? []).includes('UP')) {
    await ipIn(spec.netns, ['link', 'set', spec.ifname, 'mtu', String(spec.mtu), 'up'], `bring ${spec.ifname} up`);
    created = true;
  }
  const routes = await ipIn(spec.netns, ['-j', 'route', 'show', 'default'], 'read default route');
  const defaults = JSON.parse(routes.stdout || '[]') as { gateway?: string; dev?: string }[];
  if (!defaults.some((r) => r.gateway === spec.gateway && r.dev === spec.ifname)) {
    await ipIn(spec.netns, ['route', 'replace', 'default', 'via', spec.gateway, 'dev', spec.ifname], 'default route');
    created = true;
  }
  return created;
}

/** Removes the veth (its workload end goes with it). Missing is fine. */
export async function detachWorkloadLink(nrNetns: string, link: string): Promise<void> {
  if (!existsSync(nrNetns)) return;
  const result = await run(NSENTER, [`--net=${nrNetns}`, IP, 'link', 'del', 'dev', link]);
  if (result.code !== 0 && (await linkExists(nrNetns, link))) throw failed(`remove ${link}`, result);
}
