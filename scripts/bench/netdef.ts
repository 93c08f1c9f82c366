/**
 * Benchmark of the network-definition layer (npm run bench:netdef): add-node on a 5,000-NR
 * definition (the library function, and the `zmesh` CLI end to end) and resourceFor for one node
 * of it. Prints the median of several runs next to the goals (add-node < 100 ms, resourceFor
 * < 20 ms). The definition is built directly (keys generated and sealed once), in 10.0.0.0/8:
 * 4,750 public NRs, 250 hidden, an aggregator and an exit.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type NetworkDefinition,
  addNode,
  assertNetworkDefinition,
  assertNodeRecord,
  generateKeyPair,
  ready,
  resourceFor,
  sealKey,
  sodiumKeySource,
} from '../../src/netdef/index.js';

const NRS = 5000;
const HIDDEN = 250;
const RUNS = 7;
const CLI_RUNS = 5;

function ipv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function buildDefinition(): NetworkDefinition {
  const resources = Array.from({ length: NRS }, (_, i) => {
    const identity = generateKeyPair();
    const wg = generateKeyPair();
    const hidden = i >= NRS - HIDDEN;
    const port = 20000 + i;
    return {
      node: `node-${i}`,
      subnet: `${ipv4(((10 << 24) | (i << 8)) >>> 0)}/24`,
      wgPublicKey: wg.publicKey,
      wgPrivateKeySealed: sealKey(wg.privateKey, identity.publicKey),
      listenPort: port,
      endpoints: hidden ? [] : [`${ipv4((0xc6120000 + i) >>> 0)}:${port}`], // 198.18.0.0/15 benchmarking space
      hidden,
      identityKey: identity.publicKey,
    };
  });
  return assertNetworkDefinition({
    version: 1,
    name: 'bench',
    revision: 1,
    ipRange: '10.0.0.0/8',
    resources,
    aggregator: 'node-0',
    exit: 'node-1',
  });
}

/** True when dist/cli/main.js exists and is newer than every source file of the tool. */
function compiledIsFresh(root: string): boolean {
  const entry = join(root, 'dist/cli/main.js');
  if (!existsSync(entry)) return false;
  const built = statSync(entry).mtimeMs;
  return ['src/cli', 'src/netdef'].every((dir) =>
    readdirSync(join(root, dir)).every((name) => statSync(join(root, dir, name)).mtimeMs <= built),
  );
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function time(runs: number, action: () => void): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    action();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(samples);
}

async function main(): Promise<void> {
  await ready();
  const buildStart = Date.now();
  const def = buildDefinition();
  console.log(
    `built a ${def.resources.length}-NR definition in ${Date.now() - buildStart} ms (10.0.0.0/8, ${HIDDEN} hidden, aggregator + exit)`,
  );

  const newcomer = generateKeyPair();
  const record = assertNodeRecord({
    id: 'newcomer',
    identityKey: newcomer.publicKey,
    endpoints: ['198.51.100.200'],
    hidden: false,
  });
  const rows: Array<[string, number, string]> = [];
  rows.push(['add-node (library)', time(RUNS, () => void addNode(def, record, sodiumKeySource)), '< 100 ms']);
  rows.push(['resourceFor (public NR, ~4,750 peers)', time(RUNS, () => void resourceFor(def, 'node-2')), '< 20 ms']);
  rows.push(['resourceFor (aggregator)', time(RUNS, () => void resourceFor(def, 'node-0')), '< 20 ms']);
  rows.push(['resourceFor (hidden NR)', time(RUNS, () => void resourceFor(def, `node-${NRS - 1}`)), '< 20 ms']);

  const dir = await mkdtemp(join(tmpdir(), 'zmesh-bench-'));
  try {
    const base = join(dir, 'base.json');
    const file = join(dir, 'net.json');
    const recordFile = join(dir, 'newcomer.json');
    await writeFile(base, `${JSON.stringify(def, null, 2)}\n`);
    await writeFile(recordFile, JSON.stringify(record));
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const compiled = compiledIsFresh(root);
    const command = compiled
      ? ['node', [join(root, 'bin/zmesh')]]
      : ['node', ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/main.ts')]];
    const samples: number[] = [];
    for (let i = 0; i < CLI_RUNS; i++) {
      await copyFile(base, file);
      const start = process.hrtime.bigint();
      execFileSync(
        command[0] as string,
        [...(command[1] as string[]), 'net', 'add-node', file, '--node-record', recordFile],
        { stdio: 'pipe' },
      );
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    rows.push([
      `zmesh net add-node, end to end (${compiled ? 'bin/zmesh, dist' : 'tsx, src'})`,
      median(samples),
      'reported (process start + 2.5 MB JSON)',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${'measure'.padEnd(width)}  median ms  goal`);
  for (const [name, ms, goal] of rows) console.log(`${name.padEnd(width)}  ${ms.toFixed(2).padStart(9)}  ${goal}`);
  console.log(`\n(median of ${RUNS} runs; CLI median of ${CLI_RUNS}; ${NRS} NRs)`);
}

await main();
