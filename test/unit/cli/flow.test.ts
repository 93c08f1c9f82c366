/**
 * The tool's main flow, end to end: the real CLI in subprocesses, in a temporary directory.
 * Four nodes, one network, 2 public + 2 hidden NRs, an aggregator, a plan per node; key files
 * and secrets; invalid input exits 2 naming the field and leaves FILE byte-identical.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { PrivateKey, openResourceKey, parseNetworkDefinition, ready } from '../../../src/netdef/index.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const nodes = ['alpha', 'bravo', 'hidden1', 'hidden2'] as const;

let dir = '';
let net = '';
let adminPublic = '';
const outputs: string[] = [];

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function zmesh(args: string[], input?: string): Promise<Run> {
  const env = { ZMESH_ADMIN_KEY: join(dir, 'admin.key') };
  const result = await execa('node', ['--import', tsx, main, ...args], {
    cwd: dir,
    env,
    reject: false,
    ...(input === undefined ? {} : { input }),
  });
  outputs.push(result.stdout, result.stderr);
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function ok(args: string[], input?: string): Promise<string> {
  const run = await zmesh(args, input);
  if (run.exitCode !== 0) throw new Error(`zmesh ${args.join(' ')} exited ${run.exitCode}: ${run.stderr}`);
  return run.stdout;
}

test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-flow-'));
  net = join(dir, 'net.json');
  adminPublic = (await ok(['admin', 'init', '--key', 'admin.key'])).trim();
  const trust = ['--trust', adminPublic];
  await Promise.all([
    ok(['node', 'init', '--state-dir', 'alpha', '--id', 'alpha', '--endpoint', '198.51.100.11', ...trust]),
    ok(['node', 'init', '--state-dir', 'bravo', '--id', 'bravo', '--endpoint', '198.51.100.12:51820', ...trust]),
    ok(['node', 'init', '--state-dir', 'hidden1', '--id', 'hidden1', '--hidden', ...trust]),
    ok(['node', 'init', '--state-dir', 'hidden2', '--id', 'hidden2', '--hidden', ...trust]),
  ]);
  await ok(['net', 'create', 'net.json', '--name', 'flow', '--ip-range', '10.1.0.0/16']);
  for (const node of nodes.slice(0, 3)) await ok(['net', 'add-node', 'net.json', '--node-record', `${node}/node.json`]);
  await ok(
    ['net', 'add-node', 'net.json', '--node-record', '-'],
    await readFile(join(dir, 'hidden2/node.json'), 'utf8'),
  );
  await ok(['net', 'set-aggregator', 'net.json', '--node', 'bravo']);
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('node init writes a 0600 identity key in a 0700 directory and prints the public record', async (t) => {
  for (const node of nodes) {
    t.is((await stat(join(dir, node))).mode & 0o777, 0o700);
    t.is((await stat(join(dir, node, 'identity.key'))).mode & 0o777, 0o600);
    const record = JSON.parse(await readFile(join(dir, node, 'node.json'), 'utf8'));
    const identity = PrivateKey.fromBase64(await readFile(join(dir, node, 'identity.key'), 'utf8'));
    t.deepEqual(Object.keys(record), ['id', 'identityKey', 'endpoints', 'hidden']);
    t.is(record.identityKey, identity.publicKey());
    t.is(record.hidden, node.startsWith('hidden'));
  }
});

test('node init refuses to replace an existing identity without --force', async (t) => {
  const before = await readFile(join(dir, 'alpha/identity.key'), 'utf8');
  const run = await zmesh(['node', 'init', '--state-dir', 'alpha', '--id', 'alpha', '--endpoint', '198.51.100.11']);
  t.is(run.exitCode, 2);
  t.regex(
    run.stderr,
    /^zmesh: node init: --state-dir: .*identity\.key already exists: refusing to replace a node identity/,
  );
  t.is(await readFile(join(dir, 'alpha/identity.key'), 'utf8'), before);
});

test('the definition has 4 NRs, the aggregator and one revision per change (create + 4 adds + set-aggregator)', async (t) => {
  const def = JSON.parse(await readFile(net, 'utf8'));
  t.true(parseNetworkDefinition(def).ok);
  t.is(def.revision, 6);
  t.is(def.aggregator, 'bravo');
  t.deepEqual(
    def.resources.map((r: { node: string; subnet: string }) => [r.node, r.subnet]),
    [
      ['alpha', '10.1.0.0/24'],
      ['bravo', '10.1.1.0/24'],
      ['hidden1', '10.1.2.0/24'],
      ['hidden2', '10.1.3.0/24'],
    ],
  );
  t.is(def.resources[1].endpoints[0], '198.51.100.12:51820');
  t.is(def.resources[0].endpoints[0], `198.51.100.11:${def.resources[0].listenPort}`);
  t.is((await stat(net)).mode & 0o777, 0o644);
});

test('plan per node: peer counts, allowed IPs and keepalives follow the roles, and the sealed key opens', async (t) => {
  const plans = Object.fromEntries(
    await Promise.all(
      nodes.map(
        async (node) =>
          [
            node,
            JSON.parse(await ok(['net', 'plan', 'net.json', '--node', node, '--node-key', `${node}/identity.key`])),
          ] as const,
      ),
    ),
  );
  const peers = (node: string) => Object.fromEntries(plans[node].peers.map((p: { node: string }) => [p.node, p]));
  t.is(plans.alpha.peers.length, 1);
  t.deepEqual(peers('alpha').bravo.allowedIps, [
    '10.1.1.0/24',
    '10.1.2.0/24',
    '10.1.3.0/24',
    '100.64.1.1/32',
    '100.64.1.2/32',
    '100.64.1.3/32',
  ]);
  t.is(peers('alpha').bravo.endpoint, '198.51.100.12:51820');
  t.is(plans.bravo.peers.length, 3);
  t.deepEqual(plans.bravo.role, { aggregator: true, exit: false });
  t.is(peers('bravo').hidden1.endpoint, null);
  t.deepEqual(peers('bravo').hidden2.allowedIps, ['10.1.3.0/24', '100.64.1.3/32']);
  for (const hidden of ['hidden1', 'hidden2']) {
    t.deepEqual(plans[hidden].peers, [
      {
        node: 'bravo',
        publicKey: plans.bravo.wgPublicKey,
        endpoint: '198.51.100.12:51820',
        allowedIps: ['10.1.0.0/16', '100.64.0.0/16'],
        persistentKeepalive: 25,
      },
    ]);
  }
  for (const node of nodes) {
    t.is(plans[node].privateKey, 'unsealed (matches wgPublicKey)');
    t.is(plans[node].mtu, 1420);
  }
});

test("plan with another node's identity key exits 2 naming --node-key", async (t) => {
  const run = await zmesh(['net', 'plan', 'net.json', '--node', 'alpha', '--node-key', 'bravo/identity.key']);
  t.is(run.exitCode, 2);
  t.regex(run.stderr, /^zmesh: net plan: --node-key: the given identity key is not node "alpha"'s identity/);
});

test('show prints a table with node, subnet, wg address, port, endpoint, hidden and role', async (t) => {
  const out = await ok(['net', 'show', 'net.json']);
  t.regex(out, /NODE\s+SUBNET\s+WG ADDRESS\s+PORT\s+ENDPOINT\s+HIDDEN\s+ROLE/);
  t.regex(out, /bravo\s+10\.1\.1\.0\/24\s+100\.64\.1\.1\s+\d+\s+198\.51\.100\.12:51820\s+no\s+aggregator/);
  t.regex(out, /hidden2\s+10\.1\.3\.0\/24\s+100\.64\.1\.3\s+\d+\s+-\s+yes\s+-/);
});

// Exit status and stderr of a real process; the full table of invalid inputs is in errors.test.ts.
const invalid: Array<[string, string[], RegExp]> = [
  [
    'a subnet outside the range',
    ['net', 'add-node', 'net.json', '--node-record', 'alpha/node.json', '--subnet', '10.9.0.0/24'],
    /--subnet: subnet 10\.9\.0\.0\/24 is outside ipRange 10\.1\.0\.0\/16/,
  ],
  [
    'a hidden aggregator',
    ['net', 'set-aggregator', 'net.json', '--node', 'hidden1'],
    /--node: aggregator "hidden1" is hidden/,
  ],
  ['an unknown option', ['net', 'set-exit', 'net.json', '--node', 'alpha', '--bogus'], /--bogus: unknown option/],
];

for (const [what, args, message] of invalid) {
  test(`invalid input (${what}) exits 2 naming the field and leaves FILE byte-identical`, async (t) => {
    const before = await readFile(net);
    const run = await zmesh(args);
    t.is(run.exitCode, 2);
    t.regex(run.stderr, new RegExp(`^zmesh: ${args[0]} ${args[1]}: `));
    t.regex(run.stderr, message);
    t.deepEqual(await readFile(net), before);
  });
}

test('a corrupted FILE is reported with its JSON path by validate (exit 2)', async (t) => {
  const { writeFile } = await import('node:fs/promises');
  const def = JSON.parse(await readFile(net, 'utf8'));
  def.resources[3].subnet = def.resources[2].subnet;
  await writeFile(join(dir, 'bad.json'), JSON.stringify(def));
  const run = await zmesh(['net', 'validate', 'bad.json']);
  t.is(run.exitCode, 2);
  t.is(
    run.stderr.trim(),
    'zmesh: net validate: bad.json#/resources/3/subnet: subnet 10.1.2.0/24 overlaps /resources/2 (node hidden1)',
  );
  t.regex(await ok(['net', 'validate', 'net.json']), /^ok: network "flow" revision 6, 4 NRs/);
});

test('no private key (identity or unsealed WireGuard key) appears in any output or in the definition file', async (t) => {
  // Run the verbs that handle keys here, so their output is surely in `outputs` (tests run concurrently).
  await Promise.all([
    ok(['net', 'show', 'net.json']),
    ...nodes.map((node) => ok(['net', 'plan', 'net.json', '--node', node, '--node-key', `${node}/identity.key`])),
    zmesh(['net', 'plan', 'net.json', '--node', 'hidden1', '--node-key', 'alpha/identity.key']),
  ]);
  const definition = await readFile(net, 'utf8');
  const def = parseNetworkDefinition(JSON.parse(definition));
  if (!def.ok) return t.fail('definition did not parse');
  const secrets: string[] = [];
  for (const node of nodes) {
    const identity = PrivateKey.fromBase64(await readFile(join(dir, node, 'identity.key'), 'utf8'));
    const resource = def.value.resources.find((r) => r.node === node)!;
    secrets.push(identity.revealBase64(), openResourceKey(resource, identity).revealBase64());
  }
  t.is(secrets.length, 8);
  const everything = [
    ...outputs,
    definition,
    ...(await Promise.all(nodes.map((n) => readFile(join(dir, n, 'node.json'), 'utf8')))),
  ].join('\n');
  t.true(outputs.length >= 2 * 15);
  for (const secret of secrets) t.false(everything.includes(secret));
});

test('admin init writes a 0600 key; every revision is signed by it; validate refuses a tampered file and a signer not trusted', async (t) => {
  t.is((await stat(join(dir, 'admin.key'))).mode & 0o777, 0o600);
  t.false(
    outputs.some((text) => text.includes(require0600Key().trim())),
    'the admin secret key is never printed',
  );
  const def = JSON.parse(await readFile(net, 'utf8'));
  t.is(def.signature.key, adminPublic);
  t.regex(await ok(['net', 'validate', 'net.json', '--trust', adminPublic]), /signed by /);
  t.is((await readFile(join(dir, 'alpha', 'trusted-admin-keys'), 'utf8')).trim().split('\n').at(-1), adminPublic);
  const { writeFile } = await import('node:fs/promises');
  const tampered = {
    ...def,
    resources: def.resources.map((r: { node: string; endpoints: string[] }) =>
      r.node === 'alpha' ? { ...r, endpoints: ['203.0.113.66:51820'] } : r,
    ),
  };
  await writeFile(join(dir, 'tampered.json'), JSON.stringify(tampered));
  const bad = await zmesh(['net', 'validate', 'tampered.json']);
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /tampered\.json#\/signature: the signature by admin key .* does not match the definition/);
  const other = (await ok(['admin', 'init', '--key', 'other.key'])).trim();
  const untrusted = await zmesh(['net', 'validate', 'net.json', '--trust', other]);
  t.is(untrusted.exitCode, 2);
  t.regex(untrusted.stderr, /net\.json#\/signature: signed by admin key .*, which this node does not trust/);
});

function require0600Key(): string {
  return readFileSync(join(dir, 'admin.key'), 'utf8');
}

test('net service add|move|remove on a copy: allocated address, moved owner, bad address named, removal frees it', async (t) => {
  const { copyFile } = await import('node:fs/promises');
  await copyFile(net, join(dir, 'svc.json'));
  t.regex(
    await ok(['net', 'service', 'add', 'svc.json', '--name', 'web', '--node', 'hidden1', '--workload', 'w1']),
    /^service "web": 10\.1\.255\.254 on hidden1 \(workload w1\); revision 7/,
  );
  t.regex(
    await ok(['net', 'service', 'move', 'svc.json', '--name', 'web', '--node', 'alpha']),
    /^service "web": 10\.1\.255\.254 on alpha; revision 8/,
  );
  const plan = JSON.parse(await ok(['net', 'plan', 'svc.json', '--node', 'bravo']));
  t.true(plan.peers.find((p: { node: string }) => p.node === 'alpha').allowedIps.includes('10.1.255.254/32'));
  const inside = await zmesh([
    'net',
    'service',
    'add',
    'svc.json',
    '--name',
    'db',
    '--node',
    'alpha',
    '--address',
    '10.1.0.9',
  ]);
  t.is(inside.exitCode, 2);
  t.regex(inside.stderr, /^zmesh: net service: --address: 10\.1\.0\.9 is inside alpha's subnet/);
  t.regex(
    await ok(['net', 'service', 'remove', 'svc.json', '--name', 'web']),
    /^removed service "web"; its address is free; revision 9/,
  );
  t.regex(
    await ok(['net', 'service', 'add', 'svc.json', '--name', 'db', '--node', 'bravo']),
    /10\.1\.255\.254 on bravo/,
  );
  t.regex(await ok(['net', 'validate', 'svc.json', '--trust', adminPublic]), /revision 10/);
});
