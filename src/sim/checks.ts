// What "the mesh works" means, as checks that each report expected vs seen: every workload
// reaches every other (ping), every workload's egress reaches the TEST-NET server from its node's
// public address (or the exit's), and a connection opened from the internet towards a workload
// is dropped. Shared by `zmesh demo --once` (its exit status) and the e2e tests.
import type { Namespace } from './harness/namespace.js';
import { startTcpListener, tcpProbe, type ProbeResult } from './probes.js';
import type { PairResult } from './reachability.js';
import type { SimNode } from './node.js';
import type { SimWorld, SimWorkload } from './world.js';

export interface CheckResult {
  readonly name: string;
  readonly expected: string;
  readonly seen: string;
  readonly ok: boolean;
}

/** Port of the listener a probe from the internet tries to reach inside a workload. */
export const INBOUND_PROBE_PORT = 7002;
/** The ndmz end of the host ↔ ndmz veth (docs/network-resources.md). */
export const NDMZ_UPLINK_ADDRESS = '100.126.0.2';

export function reachabilityChecks(results: readonly PairResult[]): CheckResult[] {
  return results.map((r) => ({
    name: `ping ${r.from} → ${r.to}`,
    expected: 'reachable',
    seen: r.reachable ? `reachable (${r.rttMs?.toFixed(1)} ms)` : 'no answer',
    ok: r.reachable,
  }));
}

/** Egress of each workload: the server must see `expectedSource(w)`. */
export async function egressChecks(
  world: SimWorld,
  workloads: readonly SimWorkload[],
  expectedSource: (w: SimWorkload) => string,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const w of workloads) {
    const answer = await world.egress(w.ns);
    const expected = expectedSource(w);
    out.push({
      name: `egress ${w.label} → 203.0.113.10`,
      expected: `seen from ${expected}`,
      seen: answer.ok ? `seen from ${answer.source}` : `failed: ${answer.reason}`,
      ok: answer.ok && answer.source === expected,
    });
  }
  return out;
}

/**
 * Opens a TCP connection from the internet namespace towards `target` (an address inside one of
 * `node`'s NRs) with the most helpful routing an attacker could hope for: the internet router
 * sends it to the node, and the node's host namespace sends it on into ndmz. Only zmesh's
 * filters stand in the way; they must drop it silently ('timeout'). The routes are removed after.
 */
export async function probeFromInternet(
  world: SimWorld,
  node: SimNode,
  target: string,
  port: number,
  timeoutMs = 1_500,
): Promise<ProbeResult> {
  const added: Array<[Namespace, string]> = [];
  const route = async (ns: Namespace, via: string): Promise<void> => {
    await ns.ip(['route', 'replace', `${target}/32`, 'via', via]);
    added.push([ns, `${target}/32`]);
  };
  try {
    await route(world.internet, node.publicAddress);
    if (node.nat) await route(node.nat, node.uplinkAddress);
    await route(node.host, NDMZ_UPLINK_ADDRESS);
    return await tcpProbe(world.internet, target, port, timeoutMs);
  } finally {
    for (const [ns, dst] of added) await ns.ip(['route', 'del', dst], { check: false });
  }
}

/** New connections from the internet to each workload (listening on a port) are dropped. */
export async function inboundChecks(world: SimWorld, workloads: readonly SimWorkload[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const w of workloads) {
    const listener = await startTcpListener(w.ns, '0.0.0.0', INBOUND_PROBE_PORT);
    try {
      const r = await probeFromInternet(world, w.node, w.ip, INBOUND_PROBE_PORT);
      out.push({
        name: `internet → ${w.label} ${w.ip}:${INBOUND_PROBE_PORT}`,
        expected: 'dropped (timeout)',
        seen: r,
        ok: r === 'timeout',
      });
    } finally {
      await listener.stop({ graceMs: 500 });
    }
  }
  return out;
}

export function formatChecks(checks: readonly CheckResult[]): string {
  const w = Math.max(...checks.map((c) => c.name.length), 5);
  return checks
    .map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(w)}  expected ${c.expected}; ${c.seen}`)
    .join('\n');
}
