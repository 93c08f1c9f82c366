/**
 * Helpers of the access-control netns tests: a workload with the probe server (access-probe.mjs)
 * attached to an NR, and whether a new connection (TCP, UDP) or an echo (ICMP) really passes.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { type Flow, type NetworkDefinition, WG_MTU, explainFlow } from '../../src/netdef/index.js';
import { attachWorkloadLink } from '../../src/networkd/workload-link.js';
import { workloadLinkName } from '../../src/nr/index.js';
import { type Namespace, type World, ping } from '../harness/index.js';
import type { SimNode } from './nr-world.js';

export const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'access-probe.mjs');
/** How long a probe waits for an answer: a denied flow costs this much. */
const PROBE_MS = 1500;

/** Whether a new connection (or echo) from `from` reaches `flow.to` within PROBE_MS. */
export async function passes(from: Namespace, flow: Flow, waitMs = PROBE_MS): Promise<boolean> {
  if (flow.protocol === 'icmp') return (await ping(from, flow.to, { count: 1, timeoutMs: waitMs })).received === 1;
  const run = await from.exec('node', [PROBE, flow.protocol, flow.to, String(flow.port), String(waitMs)], {
    check: false,
    timeoutMs: waitMs + 5000,
  });
  return run.exitCode === 0;
}

/**
 * Whether a flow explain allows really passes: up to three tries of 3 s. Many probes start at
 * once on a loaded 2-core CI host, and one SYN or echo can miss a single 1.5 s window; a denied
 * flow is probed once (it never passes, so retrying it would only cost time).
 */
async function passesAllowed(from: Namespace, flow: Flow): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) if (await passes(from, flow, 3_000)) return true;
  return false;
}

/** A workload `w<id>` at 10.1.<third>.10 on the node's NR, serving TCP and UDP on `ports`. */
export async function probeWorkload(
  w: World,
  node: SimNode,
  netId: string,
  id: string,
  third: number,
  ports: readonly number[],
): Promise<{ ns: Namespace; ip: string }> {
  const ns = await w.namespace(`w${id}`);
  const ip = `10.1.${third}.10`;
  await attachWorkloadLink({
    nrNetns: `/run/netns/${node.prefix}n-${netId}`,
    link: workloadLinkName(`w${id}`),
    netns: ns.path,
    ifname: 'eth0',
    serviceAddresses: [],
    ip,
    gateway: `10.1.${third}.1`,
    mtu: WG_MTU,
  });
  await ns.spawn('node', [PROBE, 'serve', ...ports.map(String)]).waitForOutput(/ready/, { timeoutMs: 10_000 });
  return { ns, ip };
}

/**
 * Sends every sampled flow for real (concurrently) and asserts that it passes exactly when
 * explain allows it; resolves with explain's verdicts, so the caller can check both occur.
 */
export async function expectTrafficMatchesExplain(
  t: ExecutionContext,
  def: NetworkDefinition,
  samples: readonly (readonly [Namespace, Flow])[],
): Promise<boolean[]> {
  const outcomes = await Promise.all(
    samples.map(async ([ns, flow]) => {
      const explained = explainFlow(def, flow);
      return { flow, explained, real: await (explained.allow ? passesAllowed(ns, flow) : passes(ns, flow)) };
    }),
  );
  for (const { flow, explained, real } of outcomes) {
    t.is(
      real,
      explained.allow,
      `${flow.protocol} ${flow.from} -> ${flow.to}:${flow.port ?? ''} explain: ${explained.by}`,
    );
  }
  return outcomes.map((o) => o.explained.allow);
}
