/**
 * The simulated fleet's control plane: a 3-member etcd cluster on the simulated internet (each
 * member in its own namespace at 198.51.100.201–203, bridged with the public nodes; hidden nodes
 * reach it through their NAT), an operator's namespace (198.51.100.200) where the tool runs, and
 * on every node `zmesh provisiond --store … --node ID` beside its networkd, so definitions reach
 * the nodes through the store with no hand-pushing. Everything lives inside the world's
 * namespaces and is ended by the world's teardown.
 */
import { logMessages } from '../common/log.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdCluster } from './etcd-cluster.js';
import { SimError } from './errors.js';
import type { Namespace } from './harness/namespace.js';
import type { BackgroundProcess } from './harness/process.js';
import type { SimNode } from './node.js';
import { reachabilityMatrix, type PairResult } from './reachability.js';
import { STANDARD_NODES, type StandardMesh, type StandardMeshOptions, waitForHandshakes } from './mesh.js';
import { SimNetwork } from './network.js';
import { INTERNET_ROUTER_PUBLIC, SimWorld, type SimWorkload } from './world.js';
import { defaultZmeshInvocation, zmeshArgs, type ZmeshInvocation } from './zmesh-command.js';

export const ETCD_CLIENT_PORT = 12379;
export const ETCD_PEER_PORT = 12380;
const ADMIN_ADDRESS = '198.51.100.200';
const MEMBER_ADDRESS = (i: number) => `198.51.100.${201 + i}`;

export interface FleetWorkload {
  readonly node: SimNode;
  /** The workload's name at its node's networkd (a service's `--workload`). */
  readonly id: string;
  readonly network: string;
  readonly ns: Namespace;
  readonly ip: string;
  readonly label: string;
}

export class SimFleet {
  readonly world: SimWorld;
  readonly etcd: EtcdCluster;
  /** The operator's machine on the internet: the tool runs here. */
  readonly admin: Namespace;
  readonly agents = new Map<string, BackgroundProcess>();
  readonly workloads: FleetWorkload[] = [];
  private readonly zmesh: ZmeshInvocation;
  /** Arguments every node's provisiond gets besides the fleet's own (e.g. `--metrics`). */
  private readonly agentArgs: readonly string[];
  /** Workloads ever attached (names are never reused, even after a workload went with its NR). */
  private attached = 0;

  private constructor(
    world: SimWorld,
    etcd: EtcdCluster,
    admin: Namespace,
    zmesh: ZmeshInvocation,
    agentArgs: readonly string[],
  ) {
    this.world = world;
    this.etcd = etcd;
    this.admin = admin;
    this.zmesh = zmesh;
    this.agentArgs = agentArgs;
  }

  /** The cluster and the operator's namespace; then `startAgents`. */
  static async create(
    world: SimWorld,
    opts: { zmesh?: ZmeshInvocation; members?: number; agentArgs?: readonly string[] } = {},
  ): Promise<SimFleet> {
    const harness = world.harness;
    const attach = async (short: string, address: string): Promise<Namespace> => {
      const ns = await harness.namespace(short);
      await harness.link(world.internet, `pub${short}`, ns, 'eth0', { addressB: `${address}/24` });
      await world.internet.ip(['link', 'set', `pub${short}`, 'master', 'pub']);
      await ns.addRoute('default', { via: INTERNET_ROUTER_PUBLIC });
      return ns;
    };
    const admin = await attach('adm', ADMIN_ADDRESS);
    const members = [];
    for (let i = 0; i < (opts.members ?? 3); i++) {
      members.push({
        host: MEMBER_ADDRESS(i),
        clientPort: ETCD_CLIENT_PORT,
        peerPort: ETCD_PEER_PORT,
        namespace: await attach(`e${i + 1}`, MEMBER_ADDRESS(i)),
      });
    }
    const etcd = await EtcdCluster.start(harness, members);
    return new SimFleet(world, etcd, admin, opts.zmesh ?? defaultZmeshInvocation(), opts.agentArgs ?? []);
  }

  get url(): string {
    return this.etcd.url;
  }

  /** `zmesh ARGS` on the operator's machine; a non-zero exit throws with the tool's message. */
  async tool(
    args: readonly string[],
    opts: { check?: boolean } = {},
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const r = await this.admin.exec(this.zmesh.file, zmeshArgs(this.zmesh, args), {
      check: false,
      timeoutMs: 120_000,
      env: { ...this.world.admin.env },
    });
    if (opts.check !== false && r.exitCode !== 0) {
      throw new SimError('TOOL_FAILED', `zmesh ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, {
        verb: args.join(' '),
      });
    }
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** `zmesh net VERB NAME --store URL ARGS`. */
  net(verb: string, name: string, args: readonly string[] = [], opts: { check?: boolean } = {}) {
    return this.tool(['net', verb, name, '--store', this.url, ...args], opts);
  }

  /** Blocks until every alive member of `name` applied its current revision (`net status --wait`). */
  async converged(name: string, timeoutS = 60): Promise<string> {
    return (await this.net('status', name, ['--wait', '--timeout', String(timeoutS)])).stdout;
  }

  /** provisiond as the store agent on each node (beside its networkd), waiting for "ready". */
  async startAgents(nodes: readonly SimNode[] = this.world.nodes): Promise<void> {
    await Promise.all(nodes.map((n) => this.startAgent(n)));
  }

  async startAgent(node: SimNode): Promise<void> {
    if (this.agents.get(node.id)?.running) return;
    const args = [
      'provisiond',
      '--state-dir',
      join(node.stateDir, 'provisiond'),
      '--networkd-socket',
      node.socketPath,
      '--socket',
      join(node.stateDir, 'provisiond.sock'),
      '--retry-base-ms',
      '100',
      '--retry-max-ms',
      '2000',
      '--store',
      this.url,
      '--node',
      node.id,
      '--node-state-dir',
      node.stateDir,
      ...this.agentArgs,
    ];
    const proc = node.host.spawn(this.zmesh.file, zmeshArgs(this.zmesh, args));
    this.agents.set(node.id, proc);
    await proc.waitForOutput(/ready/, { timeoutMs: 60_000 });
  }

  /** Stops a node's agent (SIGTERM; SIGKILL with `kill`). networkd and the NRs keep running. */
  async stopAgent(node: SimNode, opts: { kill?: boolean } = {}): Promise<void> {
    const proc = this.agents.get(node.id);
    if (!proc?.running) return;
    if (opts.kill) {
      proc.killSync();
      await proc.exited;
    } else {
      await proc.stop({ graceMs: 5_000 });
    }
  }

  /** The agent's log so far (for failure messages). */
  agentLog(node: SimNode): string {
    const proc = this.agents.get(node.id);
    return proc ? logMessages(proc.stderr) : '';
  }

  /** A workload namespace attached to the node's NR of `network` through its networkd. */
  async attachWorkload(node: SimNode, network: string): Promise<FleetWorkload> {
    const serial = this.attached++;
    const ns = await this.world.harness.namespace(`f${node.index}w${serial}`);
    const id = `${node.id}-${network}-${serial}`;
    const answer = await node.api.attach(network, id, ns.path, 'eth0');
    const w: FleetWorkload = { node, id, network, ns, ip: answer.ip, label: `${node.id}/${network}` };
    this.workloads.push(w);
    return w;
  }

  reachability(workloads: readonly FleetWorkload[] = this.workloads, count = 3): Promise<PairResult[]> {
    return reachabilityMatrix(
      workloads.map((w) => ({ label: w.label, ns: w.ns, ip: w.ip })),
      { count },
    );
  }

  /** The revision a node's networkd runs for `network`, or null when it has no such network. */
  async appliedRevision(node: SimNode, network: string): Promise<number | null> {
    try {
      const body = (await node.api.getNetwork(network)) as { revision?: number };
      return body.revision ?? null;
    } catch {
      return null;
    }
  }

  diagnostics(): string {
    return this.world.nodes.map((n) => `--- ${n.id}: provisiond\n${this.agentLog(n).slice(-2000)}`).join('\n');
  }
}

/** The definition of `name` as the store holds it, written to `net.file` so the world's views read it. */
export async function syncDefinitionFile(fleet: SimFleet, net: SimNetwork): Promise<void> {
  const dump = join(fleet.world.harness.tempDir(), 'fleet-export.json');
  await fleet.tool(['store', 'export', '--store', fleet.url, dump]);
  const definition = (JSON.parse(readFileSync(dump, 'utf8')) as { networks: { name: string }[] }).networks.find(
    (n) => n.name === net.name,
  );
  if (!definition)
    throw new SimError('UNKNOWN_NODE', `network '${net.name}' is not in the store`, { network: net.name });
  writeFileSync(net.file, `${JSON.stringify(definition, null, 2)}\n`, { mode: 0o644 });
}

export interface FleetMesh extends StandardMesh {
  readonly fleet: SimFleet;
}

/**
 * The standard mesh (2 public + 2 hidden nodes, alpha the aggregator, a workload per NR), defined
 * through the store: the tool edits the network in etcd, each node's agent applies it, nobody
 * pushes anything into a node. Torn down on failure.
 */
export async function buildFleetMesh(
  opts: StandardMeshOptions & { agentArgs?: readonly string[] } = {},
): Promise<FleetMesh> {
  const world = await SimWorld.create(STANDARD_NODES, opts);
  try {
    const log = opts.log ?? (() => {});
    log('etcd: 3 members on the simulated internet (198.51.100.201-203); provisiond as store agent on every node');
    const fleet = await SimFleet.create(world, {
      ...(opts.zmesh ? { zmesh: opts.zmesh } : {}),
      ...(opts.agentArgs ? { agentArgs: opts.agentArgs } : {}),
    });
    await fleet.startAgents();
    const name = opts.networkName ?? 'demo';
    const ipRange = opts.ipRange ?? '10.1.0.0/16';
    log(`network ${name} ${ipRange}: zmesh net create / add-node --store ${fleet.url}`);
    await fleet.net('create', name, ['--ip-range', ipRange]);
    for (const n of world.nodes) await fleet.net('add-node', name, ['--node-record', n.recordFile]);
    await fleet.net('set-aggregator', name, ['--node', 'alpha']);
    log(`network ${name}: waiting until every node's agent applied the latest revision`);
    await fleet.converged(name);
    const net = new SimNetwork(
      name,
      ipRange,
      world.harness.tempDir(),
      opts.zmesh ?? defaultZmeshInvocation(),
      world.admin.env,
    );
    await syncDefinitionFile(fleet, net);
    world.adoptNetwork(net);
    const workloads: SimWorkload[] = [];
    for (const n of world.nodes) workloads.push(await world.attachWorkload(net, n));
    await waitForHandshakes(world, net, opts.handshakeTimeoutMs ?? 20_000);
    return { world, net, workloads, fleet };
  } catch (e) {
    await world.teardown().catch(() => {});
    throw e;
  }
}
