/**
 * Carries out steps, in order, through src/nr/kernel (one Rtnl per namespace for the whole run,
 * via KernelSession) and the WgBackend, timing each. The first failing step stops the run with an
 * NrError ESTEP naming the step; every step is idempotent, so running the diff again repairs a
 * half-done apply. With an NftCache, table replacements are recorded so that the next inspection
 * need not read them back; with NamespaceWatches, a namespace's watch is closed before the
 * namespace is deleted (a watch socket would keep it, and the links in it, alive).
 */
import { deleteNamespace, deleteTable, ensureNamespace, replaceTable, setSysctl } from './kernel/index.js';
import { NrError } from './errors.js';
import type { NamespaceWatches } from './namespace-watch.js';
import type { NftCache } from './nft-cache.js';
import { cutDeniedFlows } from './cut-flows.js';
import { toKernelTable } from './nft.js';
import { netnsKey } from './model.js';
import type { KernelSession } from './session.js';
import { type Step, describeStep } from './steps.js';
import type { WgBackend } from './wireguard/backend.js';

/** This process's namespace, as a path any thread can open (the thread group's, not a worker's). */
const OWN_NETNS_PATH = `/proc/${process.pid}/ns/net`;

export interface StepTiming {
  readonly step: string;
  readonly kind: Step['kind'];
  readonly ms: number;
}

function namedPath(session: KernelSession, step: Extract<Step, { kind: 'ensure-wg-device' }>): string {
  const path = session.path(step.netns);
  if (path === null) throw new Error('a WireGuard device lives in a named NR namespace'); // plan guarantees it
  return path;
}

/** What apply keeps informed of namespaces it makes and deletes (both optional). */
export interface ApplyMemories {
  readonly tables?: NftCache | null;
  readonly watches?: NamespaceWatches | null;
}

/** The WireGuard backend a WireGuard step needs; steps of workload links carry none. */
function backend(wg: WgBackend | null, step: Step): WgBackend {
  if (wg === null) throw new Error(`${step.kind} needs a WireGuard backend`); // a bug: no plan gives one without
  return wg;
}

async function run(step: Step, session: KernelSession, wg: WgBackend | null, memories: ApplyMemories): Promise<void> {
  const cache = memories.tables ?? null;
  switch (step.kind) {
    case 'create-namespace':
      cache?.forget(session, step.netns);
      memories.watches?.forget(session.path(step.netns));
      if (step.netns.kind === 'named') await ensureNamespace(step.netns.name);
      return;
    case 'delete-namespace':
      cache?.forget(session, step.netns);
      memories.watches?.forget(session.path(step.netns));
      session.forget(step.netns);
      if (step.netns.kind === 'named') deleteNamespace(step.netns.name, { ifMissing: 'ignore' });
      return;
    case 'create-veth':
      // A null path means "networkd's own namespace"; to Rtnl a null peer path means "the socket's
      // namespace" — the far end (ndmz) when the host is networkd's own. Name it explicitly.
      return session
        .rtnl(step.netns)
        .createVeth(step.name, step.peer, session.path(step.peerNetns) ?? OWN_NETNS_PATH, { mtu: step.mtu });
    case 'create-bridge':
      return session.rtnl(step.netns).createBridge(step.name, { mtu: step.mtu });
    case 'delete-link':
      await session.rtnl(step.netns).deleteLink(step.name);
      return;
    case 'ensure-wg-device':
      return backend(wg, step).ensureDevice(step.name, namedPath(session, step), step.mtu);
    case 'set-link': {
      const rtnl = session.rtnl(step.netns);
      if (step.mtu !== undefined) await rtnl.setMtu(step.name, step.mtu);
      if (step.master !== undefined) await rtnl.setMaster(step.name, step.master);
      if (step.up === true) await rtnl.setUp(step.name);
      if (step.up === false) await rtnl.setDown(step.name);
      return;
    }
    case 'add-address':
      return session.rtnl(step.netns).addAddress(step.link, step.cidr);
    case 'remove-address':
      await session.rtnl(step.netns).deleteAddress(step.link, step.cidr);
      return;
    case 'replace-route': {
      const { destination, gateway, link } = step.route;
      return session
        .rtnl(step.netns)
        .replaceRoute({ destination, dev: link, ...(gateway === null ? {} : { gateway }) });
    }
    case 'remove-route': {
      const { destination, gateway, link } = step.route;
      await session.rtnl(step.netns).deleteRoute({ destination, dev: link, ...(gateway === null ? {} : { gateway }) });
      return;
    }
    case 'set-sysctl':
      return setSysctl(session.path(step.netns), step.key, step.value);
    case 'replace-nft-table': {
      const replace = () =>
        replaceTable(session.path(step.netns), step.table.family, step.table.name, toKernelTable(step.table));
      return cache ? cache.replaced(session, step.netns, step.table, replace) : replace();
    }
    case 'cut-denied-flows':
      return cutDeniedFlows(session.path(step.netns) ?? OWN_NETNS_PATH, step.policy).then(() => undefined);
    case 'delete-nft-table':
      cache?.forget(session, step.netns);
      return deleteTable(session.path(step.netns), step.family, step.name);
    case 'configure-wg':
      return backend(wg, step).configure(step.name, step.config);
    case 'remove-wg-device':
      return backend(wg, step).removeDevice(step.name);
    case 'remove-wg-devices':
      return backend(wg, step).removeDevices(step.names);
  }
}

/** Kinds that only ever come last and never depend on each other (sysctls, tables, WireGuard config). */
const INDEPENDENT_TAIL: ReadonlySet<Step['kind']> = new Set([
  'set-sysctl',
  'replace-nft-table',
  'cut-denied-flows',
  'configure-wg',
]);

async function timedRun(
  step: Step,
  session: KernelSession,
  wg: WgBackend | null,
  memories: ApplyMemories,
): Promise<StepTiming> {
  const started = performance.now();
  try {
    await run(step, session, wg, memories);
  } catch (error) {
    const description = describeStep(step);
    const reason = error instanceof Error ? error.message : String(error);
    throw new NrError('ESTEP', `${description}: ${reason}`, { step: description }, { cause: error });
  }
  return { step: describeStep(step), kind: step.kind, ms: performance.now() - started };
}

/**
 * Runs the steps in order; resolves with their timings or rejects with ESTEP at the first failure.
 * The trailing sysctl/nft/WireGuard steps run concurrently (one chain per namespace, so table
 * replacements of one namespace stay ordered): an nft(8) process and a UAPI exchange overlap.
 */
export async function applySteps(
  steps: readonly Step[],
  session: KernelSession,
  wg: WgBackend | null,
  known: ApplyMemories = {},
): Promise<StepTiming[]> {
  let tailStart = steps.length;
  while (tailStart > 0 && INDEPENDENT_TAIL.has(steps[tailStart - 1]!.kind)) tailStart--;
  const timings: StepTiming[] = [];
  for (const step of steps.slice(0, tailStart)) timings.push(await timedRun(step, session, wg, known));
  const chains = new Map<string, Step[]>();
  for (const step of steps.slice(tailStart)) {
    const key = 'netns' in step ? netnsKey(step.netns) : `wg ${step.kind}`;
    chains.set(key, [...(chains.get(key) ?? []), step]);
  }
  const done = await Promise.allSettled(
    [...chains.values()].map(async (chain) => {
      const out: StepTiming[] = [];
      for (const step of chain) out.push(await timedRun(step, session, wg, known));
      return out;
    }),
  );
  for (const result of done) {
    if (result.status === 'rejected') throw result.reason;
    timings.push(...result.value);
  }
  return timings;
}
