// An agent under test: provisiond with --store on a real 3-member etcd cluster, a scripted networkd
// that records what it is asked to apply, and the tool run in-process.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTrustedKeys } from '../../src/networkd/trusted-keys.js';
import { createSimAdmin } from '../../src/sim/admin.js';
import { Provisiond } from '../../src/provisiond/daemon.js';
import type { HostResolver } from '../../src/networkd/endpoint-resolver.js';
import { readStatus, statusKey, type EtcdStore, withSignedWrites } from '../../src/store/index.js';
import { AdminKey, type NetworkDefinition, signDefinition } from '../../src/netdef/index.js';
import { FakeNetworkd } from '../unit/provisiond/fake-networkd.js';
import { tempDir } from '../unit/provisiond/helpers.js';
import { initKeys, makeNode } from '../unit/netdef/fixtures.js';
import { etcdFor } from './etcd-fixture.js';
import { type ToolRun, zmeshInProcess } from '../harness/zmesh-in-process.js';

export type Tool = (args: string[]) => Promise<ToolRun>;

/**
 * The tool run in-process under `env` (its own, not process.env: the tests of a file run at once,
 * each signing with its own admin key).
 */
export function toolWith(env: Readonly<Record<string, string>>): Tool {
  return (args) => zmeshInProcess(args, { env: { PATH: process.env.PATH, ...env } });
}

export let nodes: Record<string, ReturnType<typeof makeNode>> = {};
export async function initNodes(): Promise<void> {
  await initKeys();
  nodes = Object.fromEntries(['alpha', 'bravo', 'charlie'].map((id) => [id, makeNode(id, false)]));
}

export async function statusOf(store: EtcdStore, node: string, network: string) {
  const text = await store.client.get(statusKey(node, network)).string();
  return text === null ? null : readStatus(statusKey(node, network), text);
}

export async function rig(t: Parameters<typeof etcdFor>[0], options: Parameters<typeof etcdFor>[1] = {}) {
  const fixture = await etcdFor(t, options);
  const dir = tempDir(t, 'zmesh-agent-');
  const fake = await FakeNetworkd.start(join(dir, 'networkd.sock'));
  // The rig's tool (in-process) signs with this admin key; the node trusts it.
  const admin = await createSimAdmin(dir);
  const zmesh = toolWith(admin.env);
  const nodeStateDir = join(dir, 'node');
  mkdirSync(nodeStateDir, { mode: 0o700 });
  await writeTrustedKeys(nodeStateDir, [admin.publicKey]);
  t.teardown(() => fake.close());
  const logs: string[] = [];
  // What the agent said, shown when a test fails: a timeout alone does not say why.
  t.teardown(() => {
    if (!t.passed) for (const line of logs) t.log(line);
  });
  const daemons: Provisiond[] = [];
  const start = async (
    opts: { url?: string; resolveHost?: HostResolver; resolveEveryMs?: number; redemptionPollMs?: number } = {},
  ) => {
    const daemon = await Provisiond.start({
      stateDir: join(dir, 'state'),
      networkdSocket: join(dir, 'networkd.sock'),
      socket: join(dir, 'provisiond.sock'),
      backoff: { baseMs: 20, maxMs: 200 },
      log: (m) => logs.push(m),
      store: { url: opts.url ?? fixture.cluster.url, nodeId: 'alpha', nodeStateDir },
      ...(opts.resolveHost ? { resolveHost: opts.resolveHost } : {}),
      ...(opts.resolveEveryMs ? { resolveEveryMs: opts.resolveEveryMs } : {}),
      ...(opts.redemptionPollMs ? { redemptionPollMs: opts.redemptionPollMs } : {}),
    });
    daemons.push(daemon);
    return daemon;
  };
  t.teardown(async () => {
    for (const d of daemons) await d.stop(1000).catch(() => {});
  });
  const applied = () =>
    fake.requests.filter((r) => r.method === 'PUT').map((r) => (r.body as { revision: number }).revision);
  const deletes = () => fake.requests.filter((r) => r.method === 'DELETE').length;
  // The tests' own store writes are signed by the same admin, as the tool's are.
  const key = AdminKey.fromBase64(readFileSync(admin.keyFile, 'utf8'));
  const sign = <T extends NetworkDefinition>(def: T): T => signDefinition(def, key);
  const store = (url?: string) => withSignedWrites(fixture.store(url), sign);
  return { ...fixture, store, fake, logs, start, applied, deletes, admin, adminKey: key, nodeStateDir, sign, zmesh };
}
