/**
 * Cutting established connections that a new access policy denies (DESIGN.md "Access control"):
 * the forward chain accepts `ct state established,related` first, so without this a connection
 * opened before a change would keep flowing after the change denied it. After the NR's table is
 * replaced, its conntrack table is listed and every IPv4 entry whose original direction the
 * policy now denies (netdef's policyVerdict, the function explain uses) is deleted; allowed
 * connections are not touched. A cut connection's next packet is a new one and is dropped.
 *
 * conntrack(8) runs inside the NR's namespace (nsenter; absolute paths) — only namespaces zmesh
 * made, never the node's own.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type AccessPolicy, type AccessProtocol, parseIpv4, policyVerdict } from '../netdef/index.js';
import { NSENTER } from './kernel/nft.js';

const CONNTRACK = '/usr/sbin/conntrack';
const TIMEOUT_MS = 15_000;
const run = promisify(execFile);

/** One conntrack entry's original direction, as `conntrack -L` prints it. */
export interface TrackedFlow {
  readonly protocol: AccessProtocol;
  readonly src: string;
  readonly dst: string;
  /** tcp/udp: ports; icmp: type, code, id. */
  readonly keys: Readonly<Record<string, string>>;
}

/** Parses `conntrack -L -f ipv4` lines (tcp, udp, icmp; others are never cut). Exported for its test. */
export function parseConntrackList(text: string): TrackedFlow[] {
  const flows: TrackedFlow[] = [];
  for (const line of text.split('\n')) {
    const protocol = /^(tcp|udp|icmp)\s/.exec(line)?.[1] as AccessProtocol | undefined;
    if (!protocol) continue;
    const keys: Record<string, string> = {};
    for (const [, key, value] of line.matchAll(/\b([a-z]+)=(\S+)/g)) {
      if (key === 'src' && 'src' in keys) break; // the reply direction starts: stop at the original
      if (key !== undefined && value !== undefined && !(key in keys)) keys[key] = value;
    }
    const { src, dst, ...rest } = keys;
    if (src && dst) flows.push({ protocol, src, dst, keys: rest });
  }
  return flows;
}

function deleteArgs(flow: TrackedFlow): string[] {
  const args = ['-D', '-f', 'ipv4', '-p', flow.protocol, '-s', flow.src, '-d', flow.dst];
  if (flow.protocol === 'icmp') {
    for (const key of ['type', 'code', 'id'] as const)
      if (flow.keys[key] !== undefined) args.push(`--icmp-${key}`, flow.keys[key]!);
  } else {
    for (const key of ['sport', 'dport'] as const)
      if (flow.keys[key] !== undefined) args.push(`--${key}`, flow.keys[key]!);
  }
  return args;
}

/** The tracked flows `policy` denies. */
export function deniedFlows(flows: readonly TrackedFlow[], policy: AccessPolicy): TrackedFlow[] {
  return flows.filter((flow) => {
    const from = parseIpv4(flow.src);
    const to = parseIpv4(flow.dst);
    if (from === undefined || to === undefined) return false;
    const port = flow.protocol === 'icmp' ? undefined : Number(flow.keys['dport']);
    return !policyVerdict(policy, from, to, flow.protocol, port).allow;
  });
}

/** Deletes the conntrack entries of the namespace at `netnsPath` that `policy` denies; resolves with how many. */
export async function cutDeniedFlows(netnsPath: string, policy: AccessPolicy): Promise<number> {
  const conntrack = (args: string[]) =>
    run(NSENTER, [`--net=${netnsPath}`, CONNTRACK, ...args], { timeout: TIMEOUT_MS });
  const { stdout } = await conntrack(['-L', '-f', 'ipv4']);
  const denied = deniedFlows(parseConntrackList(stdout), policy);
  for (const flow of denied) {
    // An entry may expire between listing and deleting: conntrack then exits 1, nothing to cut.
    await conntrack(deleteArgs(flow)).catch(() => undefined);
  }
  return denied.length;
}
