/** Shared helpers of provisiond's unit tests: temp dirs, real small definitions, task builders. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkDefinition } from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from '../netdef/fixtures.js';

export function tempDir(t: { teardown(fn: () => void): void }, lead = 'provisiond-'): string {
  const dir = mkdtempSync(join(tmpdir(), lead));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A valid one-node network definition with real keys. */
export async function oneNodeDefinition(name: string, nodeId = 'node-a'): Promise<NetworkDefinition> {
  await initKeys();
  return buildNetwork(name, '10.1.0.0/16', [makeNode(nodeId, false)]);
}

export const attach = (id: string, network: string, workload = `w-${id}`) => ({
  id,
  type: 'workload.attach' as const,
  network,
  workload,
  netns: `/run/netns/${workload}`,
  ifname: 'eth0',
});

export const detach = (id: string, network: string, workload: string) => ({
  id,
  type: 'workload.detach' as const,
  network,
  workload,
});
