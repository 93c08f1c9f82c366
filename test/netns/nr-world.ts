/**
 * A simulated node for src/nr netns tests: a "node" namespace (the host of docs/network-
 * resources.md), the real `zmesh wgd` process running inside it (TUNs in NR namespaces, UDP
 * sockets in the node's), and a NetworkResources whose prefix starts with the world's run
 * prefix, so every namespace it makes is also swept by the harness. teardownAll runs first at
 * test teardown (registered after the world, so it runs before the world's).
 */
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { execa } from 'execa';
import { type Namespace, type World, spawnWgd } from '../harness/index.js';
import { type ApplyReport, NetworkResources, UserspaceWgBackend } from '../../src/nr/index.js';
import type { WgdClient } from '../../src/wg/wgd/client.js';

export interface SimNode {
  readonly ns: Namespace;
  readonly wgd: WgdClient;
  readonly uapiDir: string;
  readonly nr: NetworkResources;
  readonly prefix: string;
}

/** A node namespace `<run>node<tag>` with wgd in it and NetworkResources of prefix `<run><tag>`. */
export async function simNode(t: ExecutionContext, w: World, tag: string): Promise<SimNode> {
  const ns = await w.namespace(`node${tag}`);
  const dir = path.join(w.tempDir(), `node${tag}`);
  const control = path.join(dir, 'ctl', 'wgd.sock');
  const uapiDir = path.join(dir, 'uapi');
  const { client: wgd } = await spawnWgd(ns, { control, uapiDir, clientTimeoutMs: 10_000 });
  const prefix = `${w.prefix}${tag}`;
  const nr = new NetworkResources({ prefix, wg: new UserspaceWgBackend({ wgd }), hostNetns: ns.path });
  t.teardown(() => nr.teardownAll());
  return { ns, wgd, uapiDir, nr, prefix };
}

/** Runs a command inside a named namespace (ours: made by NetworkResources). */
export async function inNetns(name: string, cmd: string, args: string[]): Promise<string> {
  return (await execa('/usr/bin/nsenter', [`--net=/run/netns/${name}`, cmd, ...args], { timeout: 15_000 })).stdout;
}

export async function namespacesStartingWith(prefix: string): Promise<string[]> {
  const { readdirSync } = await import('node:fs');
  return readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
}

/** The kinds of step an apply took, each once, sorted: what the tests compare. */
export function stepKinds(report: ApplyReport): string[] {
  return [...new Set(report.steps.map((s) => s.kind))].sort();
}
