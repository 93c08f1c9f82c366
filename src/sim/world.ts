/**
 * The simulated multi-node world of zmesh, built on the netns harness: used by the e2e tests,
 * `zmesh demo` and the benchmarks. It owns the whole topology and its teardown:
 *
 *   server ns (203.0.113.10, who-am-I HTTP server on :80)
 *      │ eth0 ── srv0 203.0.113.1/24
 *   internet ns (router) ── bridge "pub" 198.51.100.1/24 ── eth0 198.51.100.1N/24  public node N
 *      │ natN 192.0.2.(4N+1)/30
 *      └── wan 192.0.2.(4N+2)/30  NAT router ns  lan 10.200.N.1/24 ── eth0 10.200.N.2/24  hidden node N
 *
 * Each node's host namespace runs a real `zmesh networkd --prefix <run prefix><N>`, which
 * creates its ndmz and NR namespaces (their names start with the run prefix, so the harness
 * sweeps them even after a crash) and starts wgd. The NAT LANs use 10.200.0.0/16, which user
 * networks of the tests and the demo never use (they live in 10.1.0.0/16 … 10.99.0.0/16).
 * Nodes are numbered 1–60 (the fleet benchmark needs many), which keeps every name and address
 * above unique: public .11–.70 stay below the fleet's .200–.203 (src/sim/fleet.ts), 4N+2 ≤ 254.
 *
 * Teardown (idempotent, every step attempted even when one fails): DELETE every deployed network
 * through each node's API, stop networkd and wgd by PID, then the harness removes every
 * namespace with the run prefix (ndmz, NRs, workloads, nodes, NATs) and the private directory.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Namespace } from './harness/namespace.js';
import type { BackgroundProcess } from './harness/process.js';
import { World } from './harness/world.js';
import { SimError } from './errors.js';
import { SimNetwork } from './network.js';
import { SimNode, type SimNodeSpec } from './node.js';
import { askWhoAmI, startWhoAmIServer, connectionSources, type WhoAmIAnswer } from './probes.js';
import { reachabilityMatrix, type MatrixMember, type MatrixOptions, type PairResult } from './reachability.js';
import { defaultZmeshInvocation, type ZmeshInvocation } from './zmesh-command.js';
import { type SimAdmin, createSimAdmin } from './admin.js';

export const SERVER_ADDRESS = '203.0.113.10';
export const SERVER_PORT = 80;
export const INTERNET_ROUTER_PUBLIC = '198.51.100.1';
export const MAX_NODES = 60;
const NODE_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

export interface SimWorldOptions {
  /** Log progress lines (the demo prints them; tests leave it out). */
  log?: (line: string) => void;
  /** How to run zmesh (default: matching the code this was loaded from). */
  zmesh?: ZmeshInvocation;
  /** Extra arguments for every networkd (default: `--wg userspace`; no kernel WireGuard here). */
  networkdArgs?: readonly string[];
  /** Run prefix for the harness (default random). */
  prefix?: string;
  /** Start networkd on each node as it is added (default true; false tests the topology alone). */
  startNetworkd?: boolean;
  /** How long a starting networkd may take to answer (default SimNode's, 30 s; a guest kernel under emulation needs more). */
  networkdStartTimeoutMs?: number;
}

export interface SimWorkload {
  /** Workload id given to networkd. */
  readonly id: string;
  readonly node: SimNode;
  readonly network: SimNetwork;
  /** The workload's own namespace (its `eth0` is the veth networkd made). */
  readonly ns: Namespace;
  readonly ip: string;
  readonly gateway: string;
  /** "node/network", for matrices. */
  readonly label: string;
}

export class SimWorld {
  readonly harness: World;
  readonly internet: Namespace;
  readonly server: Namespace;
  readonly whoAmI: BackgroundProcess;
  private readonly nodeList: SimNode[] = [];
  private readonly networkList: SimNetwork[] = [];
  private readonly workloadList: SimWorkload[] = [];
  /** network name → nodes it was deployed to (for teardown). */
  private readonly deployedTo = new Map<string, Set<SimNode>>();
  private readonly log: (line: string) => void;
  private readonly zmesh: ZmeshInvocation;
  /** The admin key that signs this world's definitions; every node trusts it. */
  readonly admin: SimAdmin;
  private readonly networkdArgs: readonly string[];
  private readonly startNetworkd: boolean;
  private readonly networkdStartTimeoutMs: number | undefined;
  private teardownDone: Promise<void> | undefined;

  private constructor(
    harness: World,
    internet: Namespace,
    server: Namespace,
    whoAmI: BackgroundProcess,
    admin: SimAdmin,
    opts: SimWorldOptions,
  ) {
    this.harness = harness;
    this.admin = admin;
    this.internet = internet;
    this.server = server;
    this.whoAmI = whoAmI;
    this.log = opts.log ?? (() => {});
    this.zmesh = opts.zmesh ?? defaultZmeshInvocation();
    this.networkdArgs = opts.networkdArgs ?? ['--wg', 'userspace'];
    this.startNetworkd = opts.startNetworkd !== false;
    this.networkdStartTimeoutMs = opts.networkdStartTimeoutMs;
  }

  /** The internet, the TEST-NET server and the given nodes, each with networkd running. */
  static async create(nodes: readonly SimNodeSpec[], opts: SimWorldOptions = {}): Promise<SimWorld> {
    const harness = await World.create(opts.prefix === undefined ? {} : { prefix: opts.prefix });
    let world: SimWorld | undefined;
    try {
      (opts.log ?? (() => {}))(`world ${harness.prefix}: internet router and TEST-NET server ${SERVER_ADDRESS}`);
      const internet = await harness.router('inet');
      const server = await harness.namespace('srv');
      await harness.link(internet, 'srv0', server, 'eth0', {
        addressA: '203.0.113.1/24',
        addressB: `${SERVER_ADDRESS}/24`,
      });
      await server.addRoute('default', { via: '203.0.113.1' });
      await internet.ip(['link', 'add', 'pub', 'type', 'bridge']);
      await internet.addAddress('pub', `${INTERNET_ROUTER_PUBLIC}/24`);
      await internet.setUp('pub');
      const whoAmI = await startWhoAmIServer(server, SERVER_ADDRESS, SERVER_PORT);
      world = new SimWorld(harness, internet, server, whoAmI, await createSimAdmin(harness.tempDir()), opts);
      await world.addNodes(nodes);
      return world;
    } catch (e) {
      await (world ? world.teardown() : harness.teardown()).catch(() => {});
      throw e;
    }
  }

  get prefix(): string {
    return this.harness.prefix;
  }

  get nodes(): readonly SimNode[] {
    return this.nodeList;
  }

  get networks(): readonly SimNetwork[] {
    return this.networkList;
  }

  get workloads(): readonly SimWorkload[] {
    return this.workloadList;
  }

  node(id: string): SimNode {
    const n = this.nodeList.find((x) => x.id === id);
    if (!n)
      throw new SimError(
        'UNKNOWN_NODE',
        `no node '${id}' in world ${this.prefix} (nodes: ${this.nodeList.map((x) => x.id).join(', ')})`,
        { node: id },
      );
    return n;
  }

  /** Adds a node: namespaces and uplink, `zmesh node init`, networkd started and answering. */
  async addNode(spec: SimNodeSpec): Promise<SimNode> {
    return (await this.addNodes([spec]))[0] as SimNode;
  }

  /**
   * Adds nodes, in order (indexes and addresses follow the order given): their namespaces and
   * uplinks one after the other, then `zmesh node init` and networkd's start for all of them at
   * once — those are process starts that mostly wait, and one after the other they made a
   * 4-node world take ~10 s longer here. Each node joins `nodes` as soon as it has namespaces, so
   * a failure later still has its daemons stopped by teardown.
   */
  async addNodes(specs: readonly SimNodeSpec[]): Promise<SimNode[]> {
    const ids = new Set(this.nodeList.map((n) => n.id));
    for (const spec of specs) {
      if (!NODE_ID.test(spec.id))
        throw new SimError('INVALID_ARGUMENT', `node id '${spec.id}' is invalid: 1-32 of a-z, 0-9 and "-"`, {
          field: 'id',
        });
      if (ids.has(spec.id))
        throw new SimError('INVALID_ARGUMENT', `node id '${spec.id}' is already in the world`, { field: 'id' });
      ids.add(spec.id);
    }
    if (this.nodeList.length + specs.length > MAX_NODES)
      throw new SimError('INVALID_ARGUMENT', `at most ${MAX_NODES} nodes per world`, { field: 'nodes' });
    const added: SimNode[] = [];
    for (const spec of specs) added.push(await this.plumbNode(spec, this.nodeList.length + 1));
    const started = await Promise.allSettled(
      added.map(async (node) => {
        await node.init();
        if (this.startNetworkd) await node.startNetworkd(this.networkdStartTimeoutMs);
      }),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return added;
  }

  /** One node's namespaces, uplink (direct or behind its NAT router) and state dir; joins `nodes`. */
  private async plumbNode(spec: SimNodeSpec, index: number): Promise<SimNode> {
    const hidden = spec.hidden === true;
    this.log(`node ${spec.id}: ${hidden ? 'hidden, behind a NAT router' : `public, 198.51.100.${10 + index}`}`);
    const host = await this.harness.namespace(`h${index}`);
    let nat: Namespace | undefined;
    let uplinkAddress: string;
    let publicAddress: string;
    if (hidden) {
      nat = await this.harness.natRouter(`nat${index}`, { outside: 'wan' });
      const outside = `192.0.2.${4 * index + 1}`;
      publicAddress = `192.0.2.${4 * index + 2}`;
      await this.harness.link(this.internet, `nat${index}`, nat, 'wan', {
        addressA: `${outside}/30`,
        addressB: `${publicAddress}/30`,
      });
      await nat.addRoute('default', { via: outside });
      uplinkAddress = `10.200.${index}.2`;
      await this.harness.link(nat, 'lan', host, 'eth0', {
        addressA: `10.200.${index}.1/24`,
        addressB: `${uplinkAddress}/24`,
      });
      await host.addRoute('default', { via: `10.200.${index}.1` });
    } else {
      uplinkAddress = `198.51.100.${10 + index}`;
      publicAddress = uplinkAddress;
      await this.harness.link(this.internet, `pub${index}`, host, 'eth0', { addressB: `${uplinkAddress}/24` });
      await this.internet.ip(['link', 'set', `pub${index}`, 'master', 'pub']);
      await host.addRoute('default', { via: INTERNET_ROUTER_PUBLIC });
    }
    const stateDir = join(this.harness.tempDir(), `node-${spec.id}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const node = new SimNode({
      id: spec.id,
      index,
      hidden,
      host,
      nat,
      uplinkAddress,
      publicAddress,
      prefix: `${this.prefix}${index}`,
      stateDir,
      zmesh: this.zmesh,
      trust: [this.admin.publicKey],
      spawn: (cmd, args, env) => host.spawnSharingMounts(cmd, args, env ? { env } : {}),
      networkdArgs: this.networkdArgs,
    });
    this.nodeList.push(node);
    return node;
  }

  /**
   * A network defined with the tool: created, every listed node added in order (the tool makes
   * the first public node the aggregator when a hidden one joins), then aggregator and exit set
   * when given. Not deployed yet (see `deploy`).
   */
  async createNetwork(
    name: string,
    ipRange: string,
    members: readonly SimNode[],
    opts: { aggregator?: SimNode; exit?: SimNode } = {},
  ): Promise<SimNetwork> {
    if (this.networkList.some((n) => n.name === name))
      throw new SimError('INVALID_ARGUMENT', `network '${name}' already exists in this world`, { field: 'name' });
    const net = new SimNetwork(name, ipRange, this.harness.tempDir(), this.zmesh, this.admin.env);
    this.log(`network ${name} ${ipRange}: zmesh net create, add-node ${members.map((m) => m.id).join(' ')}`);
    await net.create();
    this.networkList.push(net);
    for (const m of members) await net.addNode(m);
    if (opts.aggregator) await net.setAggregator(opts.aggregator);
    if (opts.exit) await net.setExit(opts.exit);
    return net;
  }

  /** A network defined elsewhere (in the store) that this world shows and attaches workloads to. */
  adoptNetwork(net: SimNetwork): void {
    if (this.networkList.some((n) => n.name === net.name))
      throw new SimError('INVALID_ARGUMENT', `network '${net.name}' already exists in this world`, { field: 'name' });
    this.networkList.push(net);
  }

  network(name: string): SimNetwork {
    const n = this.networkList.find((x) => x.name === name);
    if (!n) throw new SimError('INVALID_ARGUMENT', `no network '${name}' in this world`, { network: name });
    return n;
  }

  /** Sends the current definition to every member node's networkd (PUT), in parallel. */
  async deploy(net: SimNetwork, only?: readonly SimNode[]): Promise<void> {
    const definition = net.definition();
    const targets = only ?? net.members().map((id) => this.node(id));
    this.log(
      `network ${net.name}: revision ${(definition as { revision: number }).revision} → ${targets.map((t) => t.id).join(', ')}`,
    );
    const set = this.deployedTo.get(net.name) ?? new Set<SimNode>();
    this.deployedTo.set(net.name, set);
    for (const t of targets) set.add(t);
    await Promise.all(targets.map((t) => t.api.applyNetwork(net.name, definition)));
  }

  /** DELETE the network on one node (its NR and workloads go). */
  async undeploy(net: SimNetwork, node: SimNode): Promise<void> {
    await node.api.deleteNetwork(net.name);
    this.deployedTo.get(net.name)?.delete(node);
    for (let i = this.workloadList.length - 1; i >= 0; i--) {
      const w = this.workloadList[i] as SimWorkload;
      if (w.network === net && w.node === node) this.workloadList.splice(i, 1);
    }
  }

  /** DELETE the network on every node it is still deployed to (a test's cleanup, pass or fail). */
  async undeployEverywhere(net: SimNetwork): Promise<void> {
    await Promise.all([...(this.deployedTo.get(net.name) ?? [])].map((node) => this.undeploy(net, node)));
  }

  /** A fresh workload namespace attached to `node`'s NR of `net` through networkd (POST). */
  async attachWorkload(net: SimNetwork, node: SimNode, ip?: string): Promise<SimWorkload> {
    const netIndex = this.networkList.indexOf(net);
    const serial = this.workloadList.filter((w) => w.node === node && w.network === net).length;
    const short = `w${node.index}${String.fromCharCode(97 + netIndex)}${serial}`;
    const ns = await this.harness.namespace(short);
    const id = `${node.id}-${net.name}-${serial}`;
    const answer = await node.api.attach(net.name, id, ns.path, 'eth0', ip);
    const w: SimWorkload = {
      id,
      node,
      network: net,
      ns,
      ip: answer.ip,
      gateway: answer.gateway,
      label: `${node.id}/${net.name}` + (serial ? `#${serial}` : ''),
    };
    this.workloadList.push(w);
    this.log(`workload ${w.label}: ${w.ip} (gateway ${w.gateway})`);
    return w;
  }

  /** Ping matrix between workloads (default: all of them). */
  reachability(workloads: readonly SimWorkload[] = this.workloadList, opts: MatrixOptions = {}): Promise<PairResult[]> {
    return reachabilityMatrix(
      workloads.map((w): MatrixMember => ({ label: w.label, ns: w.ns, ip: w.ip })),
      opts,
    );
  }

  /** Asks the TEST-NET server, from `ns`, which source address it sees. */
  egress(ns: Namespace, timeoutMs = 3_000): Promise<WhoAmIAnswer> {
    return askWhoAmI(ns, SERVER_ADDRESS, SERVER_PORT, timeoutMs);
  }

  /** Every connection's source address the TEST-NET server has seen, in order. */
  serverSawSources(): string[] {
    return connectionSources(this.whoAmI);
  }

  /** Removes everything (see the module comment). Idempotent; throws TEARDOWN_FAILED listing every failed step. */
  /** For a failed test's log: each node's networkd output and wgd log, the last `maxChars` of each. */
  diagnostics(maxChars = 2_000): string {
    return this.nodeList
      .map((n) => `--- ${n.id}: networkd\n${n.networkdLog().slice(-maxChars)}\n--- ${n.id}: wgd\n${n.wgdLog(maxChars)}`)
      .join('\n');
  }

  teardown(): Promise<void> {
    this.teardownDone ??= this.runTeardown();
    return this.teardownDone;
  }

  private async runTeardown(): Promise<void> {
    const errors: string[] = [];
    // A node whose networkd died before it could delete its networks (killed with the terminal's
    // Ctrl-C, crashed) is torn down all the same once nothing of it is left: checked at the end.
    const unanswered = new Map<SimNode, string[]>();
    // Networks first, through the API, while networkd still runs: this is the operator's path.
    await Promise.all(
      [...this.deployedTo.entries()].flatMap(([name, nodes]) =>
        [...nodes].map(async (node) => {
          if (!node.networkd) return;
          try {
            await node.api.deleteNetwork(name);
          } catch (e) {
            const message = `DELETE ${name} on ${node.id}: ${(e as Error).message}`;
            if (await node.networkdGone()) unanswered.set(node, [...(unanswered.get(node) ?? []), message]);
            else errors.push(message);
          }
        }),
      ),
    );
    await Promise.all(
      this.nodeList.map((n) =>
        n.stopDaemons().catch((e: unknown) => {
          errors.push(`stop daemons of ${n.id}: ${(e as Error).message}`);
        }),
      ),
    );
    try {
      await this.harness.teardown();
    } catch (e) {
      errors.push((e as Error).message);
    }
    for (const [node, messages] of unanswered) {
      const left = node.leftovers();
      if (left.length === 0) continue;
      errors.push(...messages.map((m) => `${m} (networkd had exited; left behind: ${left.join(', ')})`));
    }
    if (errors.length > 0) {
      throw new SimError('TEARDOWN_FAILED', `teardown of simulated world ${this.prefix}:\n  ${errors.join('\n  ')}`, {
        prefix: this.prefix,
        errors,
      });
    }
  }
}
