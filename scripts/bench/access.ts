/**
 * Benchmark of access control at scale: a definition with G groups (one /28 each) and A
 * associations (a third tcp with ports, a third icmp, a third any), then per NR: validation,
 * derivation of the policy, compilation to nftables rules, and one atomic table replacement plus
 * read-back in a namespace of a harness World (run prefix, removed at the end).
 *
 *   npx tsx scripts/bench/access.ts [--groups 1000] [--associations 5000]
 */
import { World } from '../../src/sim/harness/index.js';
import {
  accessPolicyOf,
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  parseNetworkDefinition,
  ready,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { accessRules } from '../../src/nr/access-rules.js';
import { readTable, replaceTable } from '../../src/nr/kernel/index.js';
import { toKernelTable } from '../../src/nr/nft.js';
import { nrTable } from '../../src/nr/tables.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const GROUPS = option('groups', 1000);
const ASSOCIATIONS = option('associations', 5000);

function ms(since: bigint): string {
  return `${(Number(process.hrtime.bigint() - since) / 1e6).toFixed(0)} ms`;
}

await ready();
let def = createNetwork('bench-acl', '10.0.0.0/8');
def = addNode(
  def,
  assertNodeRecord({ id: 'a', identityKey: generateKeyPair().publicKey, endpoints: ['198.51.100.1'], hidden: false }),
  sodiumKeySource,
);
const groups = Array.from({ length: GROUPS }, (_, i) => ({
  name: `g${i}`,
  cidrs: [`10.${1 + Math.floor(i / 4096)}.${Math.floor((i % 4096) / 16)}.${(i % 16) * 16}/28`],
}));
const associations = Array.from({ length: ASSOCIATIONS }, (_, i) => {
  const from = `g${i % GROUPS}`;
  const to = `g${(i * 7 + Math.floor(i / GROUPS) + 1) % GROUPS}`;
  if (i % 3 === 0)
    return {
      from,
      to,
      protocol: 'tcp',
      ports: [String(1000 + (i % 50000)), `${2000 + (i % 100)}-${2100 + (i % 100)}`],
    };
  if (i % 3 === 1) return { from, to, protocol: 'icmp' };
  return { from, to, bothWays: true };
});
let start = process.hrtime.bigint();
const parsed = parseNetworkDefinition({ ...def, groups, associations });
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors.slice(0, 3)));
console.log(`validate ${GROUPS} groups x ${ASSOCIATIONS} associations: ${ms(start)}`);
start = process.hrtime.bigint();
const policy = accessPolicyOf(parsed.value)!;
console.log(`derive policy (${policy.rules.length} rules): ${ms(start)}`);
start = process.hrtime.bigint();
const table = toKernelTable(nrTable('w-benchacl', accessRules(policy, 'w-benchacl', ['10.0.0.1'])));
console.log(`compile to nftables: ${ms(start)}`);
const world = await World.create();
try {
  const ns = await world.namespace('acl');
  start = process.hrtime.bigint();
  await replaceTable(ns.path, 'inet', 'zmesh', table);
  console.log(`apply (one atomic table replacement): ${ms(start)}`);
  start = process.hrtime.bigint();
  const back = await readTable(ns.path, 'inet', 'zmesh');
  console.log(
    `read back (${back?.chains[0]?.rules.length} forward, ${back?.chains[1]?.rules.length} input rules): ${ms(start)}`,
  );
} finally {
  await world.teardown();
}
