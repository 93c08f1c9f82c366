// One user network of the simulated world, defined with the real tool: `zmesh net create`,
// `add-node`, `remove-node`, `set-aggregator`, `set-exit` on a definition file in the world's
// private directory. The definition (with sealed keys only) is what networkd receives.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './harness/command.js';
import { SimError } from './errors.js';
import type { SimNode } from './node.js';
import { zmeshArgs, type ZmeshInvocation } from './zmesh-command.js';

/** The parts of a definition the world reads (netdef owns the full type). */
export interface DefinitionView {
  readonly name: string;
  readonly revision: number;
  readonly ipRange: string;
  readonly resources: ReadonlyArray<{
    readonly node: string;
    readonly subnet: string;
    readonly hidden: boolean;
    readonly listenPort?: number;
  }>;
  readonly aggregator?: string;
  readonly aggregators?: readonly string[];
  readonly exit?: string;
}

export class SimNetwork {
  /** Definition file (written only by the tool). */
  readonly file: string;

  constructor(
    readonly name: string,
    readonly ipRange: string,
    dir: string,
    private readonly zmesh: ZmeshInvocation,
    /** The environment the tool runs under (the world's admin key: every revision is signed). */
    private readonly env: Readonly<Record<string, string>> = {},
  ) {
    this.file = join(dir, `net-${name}.json`);
  }

  /**
   * Runs `zmesh net <verb> FILE args...` (a verb of two words, e.g. "service move", as the tool
   * spells it); a non-zero exit is a TOOL_FAILED naming the verb and the tool's message.
   */
  async tool(verb: string, args: readonly string[] = []): Promise<string> {
    const words = verb.split(' ');
    const r = await runCommand(this.zmesh.file, zmeshArgs(this.zmesh, ['net', ...words, this.file, ...args]), {
      check: false,
      timeoutMs: this.zmesh.toolTimeoutMs ?? 30_000,
      env: { ...this.env },
    });
    if (r.exitCode !== 0) {
      throw new SimError(
        'TOOL_FAILED',
        `zmesh net ${verb} (${this.name}) failed (exit ${r.exitCode}): ${r.stderr.trim()}`,
        { network: this.name, verb },
      );
    }
    return r.stdout;
  }

  async create(): Promise<void> {
    await this.tool('create', ['--name', this.name, '--ip-range', this.ipRange]);
  }

  async addNode(node: SimNode): Promise<void> {
    await this.tool('add-node', ['--node-record', node.recordFile]);
  }

  async removeNode(node: SimNode): Promise<void> {
    await this.tool('remove-node', ['--node', node.id]);
  }

  async setAggregator(node: SimNode): Promise<void> {
    await this.tool('set-aggregator', ['--node', node.id]);
  }

  /** Several aggregators, in preference order. */
  async setAggregators(nodes: readonly SimNode[]): Promise<void> {
    await this.tool(
      'set-aggregator',
      nodes.flatMap((node) => ['--node', node.id]),
    );
  }

  async setExit(node: SimNode | null): Promise<void> {
    await this.tool('set-exit', node ? ['--node', node.id] : ['--none']);
  }

  /** The definition as the tool last wrote it. */
  definition(): unknown {
    return JSON.parse(readFileSync(this.file, 'utf8'));
  }

  view(): DefinitionView {
    return this.definition() as DefinitionView;
  }

  /** Ids of the nodes that have an NR in this network. */
  members(): string[] {
    return this.view().resources.map((r) => r.node);
  }

  subnetOf(nodeId: string): string {
    const r = this.view().resources.find((x) => x.node === nodeId);
    if (!r)
      throw new SimError('UNKNOWN_NODE', `node '${nodeId}' has no NR in network '${this.name}'`, {
        network: this.name,
        node: nodeId,
      });
    return r.subnet;
  }
}
