/**
 * The real control plane of one node for the provisiond ⇄ networkd tests: a node namespace of a
 * harness world with a state dir (identity, node record), real `zmesh networkd --wg userspace`
 * and real `zmesh provisiond --networkd-socket ...` started inside it (nsenter, sharing mounts,
 * so the namespaces networkd makes are visible to everyone), SIGKILL and restart of either,
 * and the facts the tests compare: networkd's own log of effects, its networks as the API shows
 * them, the NR namespaces in the kernel and the workload ends in their namespaces.
 *
 * Every process is started through the world (tracked by PID, stopped at teardown), every
 * namespace carries the world's prefix (networkd gets `<world prefix><tag>` as --prefix), and
 * `deleteNetworks` DELETEs through the API what is left before the world removes the rest.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustedKeysPath } from '../../src/networkd/trusted-keys.js';
import {
  AdminKey,
  type NetworkDefinition,
  addNode,
  createNetwork,
  signDefinition,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { ProvisiondClient } from '../../src/provisiond/client.js';
import { type NodeKeys, spawnNetworkd, writeNodeState } from '../../src/sim/harness/networkd.js';
import { defaultZmeshInvocation, zmeshArgs } from '../../src/sim/zmesh-command.js';
import { type BackgroundProcess, type Namespace, type World, namespacesWithPrefix } from '../harness/index.js';
import { call } from '../netns/networkd-world.js';

export { call };

/**
 * A one-node network of `identity`'s node, built with the same netdef calls the tool's `net
 * create` / `add-node` make (in-process: ten tool runs would cost seconds here). The listen
 * port is given, because every NR of one node listens in the same node namespace.
 */
export function oneNodeNetwork(
  identity: NodeKeys,
  name: string,
  ipRange: string,
  listenPort: number,
): NetworkDefinition {
  return signDefinition(
    addNode(createNetwork(name, ipRange), identity.record, sodiumKeySource, { listenPort }),
    stackAdmin(),
  );
}

export function withRevision(definition: NetworkDefinition, revision: number): NetworkDefinition {
  return signDefinition({ ...definition, revision } as NetworkDefinition, stackAdmin());
}

let admin: AdminKey | undefined;
/** The admin key that signs these tests' definitions; every StackNode trusts it (after `ready()`). */
export function stackAdmin(): AdminKey {
  admin ??= AdminKey.generate();
  return admin;
}

/** Adds the stack's admin key to a node state dir's trusted keys (a sim node trusts its world's too). */
function trustStackAdmin(stateDir: string): void {
  appendFileSync(trustedKeysPath(stateDir), `${stackAdmin().publicKey()}\n`);
}

export class StackNode {
  readonly world: World;
  readonly ns: Namespace;
  /** networkd's --prefix: the world's prefix and a tag, so two nodes in one world never collide. */
  readonly prefix: string;
  readonly stateDir: string;
  readonly networkdSocket: string;
  readonly provisiondSocket: string;
  readonly provisiondState: string;
  readonly spoolDir: string;
  readonly client: ProvisiondClient;
  /** Every networkd this node ran, oldest first (their logs together are networkd's history). */
  readonly networkdRuns: BackgroundProcess[] = [];
  readonly provisiondRuns: BackgroundProcess[] = [];
  provisiondArgs: string[] = [];

  private constructor(world: World, ns: Namespace, tag: string, stateDir: string) {
    this.world = world;
    this.ns = ns;
    this.prefix = `${world.prefix}${tag}`;
    this.stateDir = stateDir;
    this.networkdSocket = join(stateDir, 'networkd.sock');
    this.provisiondSocket = join(stateDir, 'provisiond.sock');
    this.provisiondState = join(stateDir, 'provisiond');
    this.spoolDir = join(stateDir, 'spool');
    this.client = new ProvisiondClient(this.provisiondSocket, 30_000);
  }

  /**
   * The node namespace `<prefix><tag>node` and its state dir (0700; identity.key 0600). Two nodes
   * of a comparison share `identity`, so both get the same task list.
   */
  static async create(world: World, tag: string, identity: NodeKeys): Promise<StackNode> {
    const ns = await world.namespace(`${tag}node`);
    const stateDir = join(world.tempDir(), `node-${tag}`);
    await writeNodeState(stateDir, identity, [stackAdmin().publicKey()]);
    return new StackNode(world, ns, tag, stateDir);
  }

  /**
   * A node of a SimWorld (its networkd already running, started by the sim, which also stops
   * it): provisiond is added beside it in the node's host namespace.
   */
  static ofSimNode(
    world: World,
    node: { readonly host: Namespace; readonly index: number; readonly stateDir: string },
  ): StackNode {
    trustStackAdmin(node.stateDir);
    return new StackNode(world, node.host, String(node.index), node.stateDir);
  }

  get networkd(): BackgroundProcess | undefined {
    const last = this.networkdRuns.at(-1);
    return last?.running ? last : undefined;
  }

  get provisiond(): BackgroundProcess | undefined {
    const last = this.provisiondRuns.at(-1);
    return last?.running ? last : undefined;
  }

  startNetworkd(): Promise<BackgroundProcess> {
    return spawnNetworkd(this.ns, {
      stateDir: this.stateDir,
      prefix: this.prefix,
      wg: 'userspace',
      socket: this.networkdSocket,
      onSpawn: (proc) => this.networkdRuns.push(proc),
    });
  }

  /** provisiond with fast retries (tests wait for drains), `extra` after the defaults. */
  async startProvisiond(extra: readonly string[] = this.provisiondArgs): Promise<BackgroundProcess> {
    this.provisiondArgs = [...extra];
    const zmesh = defaultZmeshInvocation();
    const args = [
      'provisiond',
      '--state-dir',
      this.provisiondState,
      '--networkd-socket',
      this.networkdSocket,
      '--socket',
      this.provisiondSocket,
      '--retry-base-ms',
      '50',
      '--retry-max-ms',
      '400',
      ...extra,
    ];
    const proc = this.ns.spawnSharingMounts(zmesh.file, zmeshArgs(zmesh, args));
    this.provisiondRuns.push(proc);
    await proc.waitForOutput(/ready, pid/, { timeoutMs: 30_000 });
    return proc;
  }

  async killNetworkd(): Promise<void> {
    await kill9(this.networkd);
  }

  async killProvisiond(): Promise<void> {
    await kill9(this.provisiond);
  }

  /** networkd's log lines across all its runs, in order (it never logs keys). */
  networkdLog(): string {
    return this.networkdRuns.map((p) => p.stderr).join('');
  }

  /** The NR namespaces networkd made, as net ids. */
  nrNetIds(): string[] {
    const head = `${this.prefix}n-`;
    return namespacesWithPrefix(head)
      .map((n) => n.slice(head.length))
      .sort();
  }

  /** networkd's `GET /v1/networks`. */
  async networks(): Promise<NetworkView[]> {
    const reply = await call(this.networkdSocket, 'GET', '/v1/networks');
    if (reply.status !== 200) throw new Error(`GET /v1/networks: ${reply.status} ${JSON.stringify(reply.body)}`);
    return (reply.body as { networks: NetworkView[] }).networks;
  }

  /** DELETE every network networkd still has (a test's cleanup; errors are reported, not thrown). */
  async deleteNetworks(): Promise<string[]> {
    const errors: string[] = [];
    try {
      for (const network of await this.networks()) {
        const reply = await call(this.networkdSocket, 'DELETE', `/v1/networks/${encodeURIComponent(network.network)}`);
        if (reply.status !== 200 && reply.status !== 404) errors.push(`DELETE ${network.network}: ${reply.status}`);
      }
    } catch (error) {
      errors.push((error as Error).message);
    }
    return errors;
  }
}

export interface NetworkView {
  readonly network: string;
  readonly netId: string;
  readonly revision: number;
  readonly subnet: string;
  readonly gateway: string;
  readonly nrExists: boolean;
  readonly listenPort: number;
  readonly device: {
    readonly name: string;
    readonly peers: readonly { node: string | null; rxBytes: number; txBytes: number }[];
  } | null;
  readonly workloads: readonly { workload: string; ip: string; netns: string; ifname: string; link: string }[];
  readonly forgottenWorkloads: readonly unknown[];
}

/** SIGKILL by PID and wait for the exit (nothing when it is not running). */
export async function kill9(proc: BackgroundProcess | undefined): Promise<void> {
  if (!proc?.running) return;
  process.kill(proc.pid, 'SIGKILL');
  await proc.exited;
}

/** An effect as networkd logs it once it is done (service.ts), keyed so repeats can be counted. */
export function effectsIn(log: string): string[] {
  const effects: string[] = [];
  for (const raw of log.split('\n')) {
    // networkd logs JSON lines (src/common/log.ts): the sentence is `msg`.
    const line = raw.startsWith('{') ? `zmesh networkd: ${(JSON.parse(raw) as { msg: string }).msg}` : raw;
    let m: RegExpExecArray | null;
    if ((m = /zmesh networkd: network (\S+): stored revision (\d+)$/.exec(line)))
      effects.push(`apply ${m[1]} r${m[2]}`);
    else if ((m = /zmesh networkd: network (\S+): workload (\S+) attached as /.exec(line)))
      effects.push(`attach ${m[1]} ${m[2]}`);
    else if ((m = /zmesh networkd: network (\S+): workload (\S+) detached, /.exec(line)))
      effects.push(`detach ${m[1]} ${m[2]}`);
    else if ((m = /zmesh networkd: network (\S+): deleted \(/.exec(line))) effects.push(`delete ${m[1]}`);
  }
  return effects;
}
