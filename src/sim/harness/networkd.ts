/**
 * `zmesh networkd` on a node made in-process, as the networkd netns tests, the provisiond ⇄
 * networkd e2e tests and the provisiond benchmark run it (a SimWorld's nodes are made by the real
 * `zmesh node init` instead, src/sim/node.ts): a node identity and record made with the netdef
 * calls `node init` makes (a tool run per node would cost seconds), the state dir networkd reads,
 * and networkd started inside a namespace of the world. The process belongs to the namespace's
 * world, which stops it at teardown.
 *
 * Not re-exported from index.ts: it loads netdef (libsodium), which the rest of the harness does not need.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KeyPair, type NodeRecord, assertNodeRecord, generateKeyPair, ready } from '../../netdef/index.js';
import type { WgChoice } from '../../networkd/daemon.js';
import { IDENTITY_KEY_FILE, NODE_RECORD_FILE } from '../../networkd/identity.js';
import { writeTrustedKeys } from '../../networkd/trusted-keys.js';
import { defaultZmeshInvocation, zmeshArgs } from '../zmesh-command.js';
import type { Namespace } from './namespace.js';
import type { BackgroundProcess } from './process.js';

/** A node's identity key pair and its public record. */
export interface NodeKeys {
  readonly keys: KeyPair;
  readonly record: NodeRecord;
}

/** A fresh identity for node `id`: a public node whose endpoint is a documentation address. */
export async function makeNodeKeys(id: string): Promise<NodeKeys> {
  await ready();
  const keys = generateKeyPair();
  return {
    keys,
    record: assertNodeRecord({ id, identityKey: keys.publicKey, endpoints: ['198.51.100.1'], hidden: false }),
  };
}

/**
 * Writes the node state dir networkd reads, as `zmesh node init --trust` would: the dir (0700),
 * identity.key (0600), node.json and trusted-admin-keys holding `trust`.
 */
export async function writeNodeState(stateDir: string, node: NodeKeys, trust: readonly string[]): Promise<void> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, IDENTITY_KEY_FILE), `${node.keys.privateKey.revealBase64()}\n`, { mode: 0o600 });
  writeFileSync(join(stateDir, NODE_RECORD_FILE), JSON.stringify(node.record));
  await writeTrustedKeys(stateDir, trust);
}

export interface NetworkdSpawnOptions {
  readonly stateDir: string;
  /** --prefix: every namespace networkd makes carries it (a world's prefix, so its teardown sweeps them). */
  readonly prefix: string;
  /** --wg; networkd's default (auto) when absent. */
  readonly wg?: WgChoice;
  /** --socket; networkd's default (<state dir>/networkd.sock) when absent. */
  readonly socket?: string;
  /** Sees the process as soon as it is spawned, before its ready line (a caller that keeps every run's log). */
  readonly onSpawn?: (proc: BackgroundProcess) => void;
}

/** How long a networkd may take to print its ready line on the shared 2-core machine. */
const READY_TIMEOUT_MS = 30_000;

/**
 * Starts `zmesh networkd` inside `ns` (the executable of src/sim/zmesh-command.ts: dist/ when
 * fresh, else src/ under tsx), its periodic reconcile only hourly (what changes is what the caller
 * asks for), and resolves once it printed its ready line.
 */
export async function spawnNetworkd(ns: Namespace, options: NetworkdSpawnOptions): Promise<BackgroundProcess> {
  const zmesh = defaultZmeshInvocation();
  const args = [
    'networkd',
    '--state-dir',
    options.stateDir,
    '--prefix',
    options.prefix,
    ...(options.wg === undefined ? [] : ['--wg', options.wg]),
    ...(options.socket === undefined ? [] : ['--socket', options.socket]),
    '--reconcile-interval',
    '3600',
  ];
  // Not `ip netns exec`: its private mount namespace would hide the namespaces networkd makes.
  const proc = ns.spawnSharingMounts(zmesh.file, zmeshArgs(zmesh, args));
  options.onSpawn?.(proc);
  await proc.waitForOutput(/ready, pid/, { timeoutMs: READY_TIMEOUT_MS });
  return proc;
}
