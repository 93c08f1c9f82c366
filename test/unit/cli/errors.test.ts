/**
 * Invalid input to every zmesh verb, run in-process through main() (the same code the binary
 * runs; flow.test.ts covers the process itself): exit status 2, `zmesh: <command>: <field>:
 * <reason>` on stderr, and FILE byte-identical afterwards. Also help and reprovision/stdin paths.
 */

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PrivateKey, openResourceKey, parseNetworkDefinition, ready } from '../../../src/netdef/index.js';
import { type ToolRun, zmeshInProcess } from '../../harness/zmesh-in-process.js';

let dir = '';

/** The tool on `args` (a leading @ stands for the test's directory), `stdin` on its stdin. */
const zmesh = (args: string[], stdin = ''): Promise<ToolRun> =>
  zmeshInProcess(
    args.map((a) => a.replace(/^@/, `${dir}/`)),
    { stdin },
  );

async function ok(args: string[], stdin?: string): Promise<string> {
  const run = await zmesh(args, stdin);
  if (run.status !== 0) throw new Error(`zmesh ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

const net = () => join(dir, 'net.json');

test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-cli-'));
  for (const [id, extra] of [
    ['alpha-new', ['--id', 'alpha', '--endpoint', '198.51.100.21']],
    ['alpha', ['--endpoint', '198.51.100.11']],
    ['bravo', ['--endpoint', 'bravo.example']],
    ['charlie', ['--endpoint', '[2001:db8::3]:4000']],
    ['hidden1', ['--hidden']],
  ] as const) {
    await ok(['node', 'init', '--state-dir', `@${id}`, ...(extra[0] === '--id' ? [] : ['--id', id]), ...extra]);
  }
  await ok(['net', 'create', '@net.json', '--name', 'errs', '--ip-range', '10.7.0.0/16']);
  for (const id of ['alpha', 'bravo', 'hidden1'])
    await ok(['net', 'add-node', '@net.json', '--node-record', `@${id}/node.json`]);
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function port(node: string): Promise<number> {
  return JSON.parse(await readFile(net(), 'utf8')).resources.find((r: { node: string }) => r.node === node).listenPort;
}

const cases: Array<[string, () => Promise<string[]>, string, RegExp]> = [
  [
    'add-node: a taken subnet',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@charlie/node.json', '--subnet', '10.7.1.0/24'],
    '--subnet',
    /subnet 10\.7\.1\.0\/24 overlaps \/resources\/1 \(node bravo\)/,
  ],
  [
    'add-node: a subnet that is not a /24',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@charlie/node.json', '--subnet', '10.7.8.0/23'],
    '--subnet',
    /must be a \/24/,
  ],
  [
    'add-node: a malformed subnet',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@charlie/node.json', '--subnet', '10.7.8.0'],
    '--subnet',
    /malformed CIDR "10\.7\.8\.0"/,
  ],
  [
    'add-node: a port clash',
    async () => [
      'net',
      'add-node',
      '@net.json',
      '--node-record',
      '@charlie/node.json',
      '--listen-port',
      String(await port('alpha')),
    ],
    '--listen-port',
    /port clash: listenPort \d+ is also used by \/resources\/0 \(node alpha\)/,
  ],
  [
    'add-node: a listen port out of range',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@charlie/node.json', '--listen-port', '0'],
    '--listen-port',
    /"0" is not a port/,
  ],
  [
    'add-node: a duplicate node',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@alpha/node.json'],
    '--node-record#/id',
    /duplicate node "alpha"/,
  ],
  [
    'add-node: a missing record file',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@missing.json'],
    '--node-record',
    /cannot read .*missing\.json: no such file/,
  ],
  [
    'add-node: a record that is not JSON',
    async () => ['net', 'add-node', '@net.json', '--node-record', '@net.json.txt'],
    '--node-record',
    /cannot read|not valid JSON/,
  ],
  [
    'add-node: a missing option value',
    async () => ['net', 'add-node', '@net.json', '--node-record'],
    '--node-record',
    /needs a value/,
  ],
  [
    'add-node: an extra argument',
    async () => ['net', 'add-node', '@net.json', 'extra', '--node-record', '@charlie/node.json'],
    'extra',
    /unexpected argument/,
  ],
  [
    'remove-node: an unknown node',
    async () => ['net', 'remove-node', '@net.json', '--node', 'zulu'],
    '--node',
    /node "zulu" is not a member of network "errs"/,
  ],
  [
    'remove-node: the aggregator of hidden NRs',
    async () => ['net', 'remove-node', '@net.json', '--node', 'alpha'],
    '--node',
    /is the aggregator of hidden NRs: set another aggregator first/,
  ],
  [
    'set-aggregator: a hidden node',
    async () => ['net', 'set-aggregator', '@net.json', '--node', 'hidden1'],
    '--node',
    /aggregator "hidden1" is hidden/,
  ],
  [
    'set-aggregator: the second of several is hidden',
    async () => ['net', 'set-aggregator', '@net.json', '--node', 'alpha', '--node', 'hidden1'],
    '--node hidden1',
    /aggregator "hidden1" is hidden/,
  ],
  [
    'set-aggregator: a node listed twice',
    async () => ['net', 'set-aggregator', '@net.json', '--node', 'alpha', '--node', 'bravo', '--node', 'alpha'],
    '--node alpha',
    /listed twice/,
  ],
  [
    'set-aggregator: --none while NRs are hidden',
    async () => ['net', 'set-aggregator', '@net.json', '--none'],
    '--none',
    /required while NRs are hidden \(hidden1\)/,
  ],
  [
    'set-exit: a node that is not a member',
    async () => ['net', 'set-exit', '@net.json', '--node', 'zulu'],
    '--node',
    /exit "zulu" is not a member/,
  ],
  [
    'set-exit: neither --node nor --none',
    async () => ['net', 'set-exit', '@net.json'],
    '--node',
    /give exactly one of --node ID and --none/,
  ],
  [
    'set-exit: a flag with a value',
    async () => ['net', 'set-exit', '@net.json', '--none=yes'],
    '--none',
    /takes no value/,
  ],
  [
    'set-exit: a repeated option',
    async () => ['net', 'set-exit', '@net.json', '--node', 'alpha', '--node', 'bravo'],
    '--node',
    /given more than once/,
  ],
  ['plan: an unknown node', async () => ['net', 'plan', '@net.json', '--node', 'zulu'], '--node', /not a member/],
  [
    'plan: a malformed key file',
    async () => ['net', 'plan', '@net.json', '--node', 'alpha', '--node-key', '@alpha/node.json'],
    '--node-key',
    /malformed identity key: expected standard base64 of 32 bytes/,
  ],
  [
    'reprovision: a node that is not a member',
    async () => [
      'net',
      'reprovision',
      '@net.json',
      '--node',
      'charlie',
      '--node-record',
      '@charlie/node.json',
      '--rotate-key',
    ],
    '--node',
    /not a member/,
  ],
  [
    'reprovision: a new identity without --old-node-key or --rotate-key',
    async () => ['net', 'reprovision', '@net.json', '--node', 'alpha', '--node-record', '@alpha-new/node.json'],
    '--old-node-key',
    /node "alpha" has a new identity: .*needs the old identity key; or rotate the key/,
  ],
  [
    'reprovision: an old key that is not the old identity',
    async () => [
      'net',
      'reprovision',
      '@net.json',
      '--node',
      'alpha',
      '--node-record',
      '@alpha-new/node.json',
      '--old-node-key',
      '@bravo/identity.key',
    ],
    '--old-node-key',
    /not node "alpha"'s identity/,
  ],
  [
    'reprovision: a record of another node',
    async () => [
      'net',
      'reprovision',
      '@net.json',
      '--node',
      'alpha',
      '--node-record',
      '@bravo/node.json',
      '--rotate-key',
    ],
    '--node-record#/id',
    /node record is for node "bravo", not "alpha"/,
  ],
  [
    'create: an existing FILE',
    async () => ['net', 'create', '@net.json', '--name', 'x', '--ip-range', '10.0.0.0/16'],
    'FILE',
    /already exists/,
  ],
  ['an unknown command', async () => ['net', 'frobnicate', '@net.json'], 'net frobnicate', /unknown command/],
];

for (const [what, argsOf, field, reason] of cases) {
  test(`${what}: exit 2, "${field}" named with the reason, FILE unchanged`, async (t) => {
    const before = await readFile(net());
    const run = await zmesh(await argsOf());
    t.is(run.status, 2, run.stderr);
    const line = run.stderr.split('\n')[0] ?? '';
    t.true(line.startsWith('zmesh: ') && line.includes(`: ${field}: `), line);
    t.regex(line, reason);
    t.deepEqual(await readFile(net()), before);
  });
}

test('node init rejects a bad id, a bad endpoint and a public node without endpoint, naming the option', async (t) => {
  const badId = await zmesh(['node', 'init', '--state-dir', '@x', '--id', 'Bad_Id', '--hidden']);
  t.is(badId.status, 2);
  t.regex(badId.stderr, /^zmesh: node init: --id: malformed node id "Bad_Id"/);
  const badEndpoint = await zmesh([
    'node',
    'init',
    '--state-dir',
    '@x',
    '--id',
    'x',
    '--endpoint',
    '198.51.100.1',
    '--endpoint',
    '198.51.100.2:0',
  ]);
  t.regex(
    badEndpoint.stderr,
    /^zmesh: node init: --endpoint #2: malformed endpoint "198\.51\.100\.2:0": port 0 is outside 1-65535/,
  );
  const noEndpoint = await zmesh(['node', 'init', '--state-dir', '@x', '--id', 'x']);
  t.regex(noEndpoint.stderr, /^zmesh: node init: --endpoint: a public node needs at least one \(or --hidden\)/);
  await t.throwsAsync(stat(join(dir, 'x', 'identity.key')));
});

test('help: zmesh --help lists every command; zmesh COMMAND --help shows its usage; no command is a usage error', async (t) => {
  const top = await zmesh(['--help']);
  t.is(top.status, 0);
  for (const command of [
    'node init',
    'net create',
    'net add-node',
    'net remove-node',
    'net set-aggregator',
    'net set-exit',
    'net reprovision',
    'net validate',
    'net show',
    'net plan',
  ]) {
    t.true(top.stdout.includes(`  ${command} `), command);
  }
  const addNode = await zmesh(['net', 'add-node', '--help']);
  t.is(addNode.status, 0);
  t.regex(
    addNode.stdout,
    /^usage: zmesh net add-node FILE \(--node-record REC \| --node ID\) \[--subnet CIDR\] \[--listen-port P\] \[--store URL\]/,
  );
  t.regex((await zmesh(['net', 'set-exit', '-h'])).stdout, /^usage: zmesh net set-exit FILE --node ID \| --none/);
  t.is((await zmesh([])).status, 2);
  t.is((await zmesh(['net'])).status, 2);
});

test('reprovision via stdin with the old identity key re-seals the NR key to the new identity', async (t) => {
  await ok(['node', 'init', '--state-dir', '@bravo-new', '--id', 'bravo', '--endpoint', '198.51.100.99']);
  await writeFile(join(dir, 'repro.json'), await readFile(net())); // a copy: other tests compare net.json
  const copy = () => join(dir, 'repro.json');
  const before = JSON.parse(await readFile(copy(), 'utf8'));
  const out = await ok(
    [
      'net',
      'reprovision',
      '@repro.json',
      '--node',
      'bravo',
      '--node-record',
      '-',
      '--old-node-key',
      '@bravo/identity.key',
    ],
    await readFile(join(dir, 'bravo-new/node.json'), 'utf8'),
  );
  t.regex(out, /reprovisioned node "bravo"/);
  const result = parseNetworkDefinition(JSON.parse(await readFile(copy(), 'utf8')));
  if (!result.ok) return t.fail();
  const old = before.resources.find((r: { node: string }) => r.node === 'bravo');
  const now = result.value.resources.find((r) => r.node === 'bravo')!;
  t.like(now, { subnet: old.subnet, listenPort: old.listenPort, wgPublicKey: old.wgPublicKey });
  t.deepEqual(now.endpoints, [`198.51.100.99:${old.listenPort}`]);
  t.is(result.value.revision, before.revision + 1);
  const identity = PrivateKey.fromBase64(await readFile(join(dir, 'bravo-new/identity.key'), 'utf8'));
  t.is(openResourceKey(now, identity).publicKey(), old.wgPublicKey);
});

test('set-exit --node then --none, and set-aggregator change the roles and bump the revision each time', async (t) => {
  await writeFile(join(dir, 'roles.json'), await readFile(net()));
  const revision = async () => JSON.parse(await readFile(join(dir, 'roles.json'), 'utf8'));
  const start = (await revision()).revision;
  await ok(['net', 'set-exit', '@roles.json', '--node', 'alpha']);
  t.is((await revision()).exit, 'alpha');
  await ok(['net', 'set-exit', '@roles.json', '--none']);
  t.is((await revision()).exit, undefined);
  await ok(['net', 'set-aggregator', '@roles.json', '--node', 'alpha']);
  t.is((await revision()).revision, start + 3);
});

test('set-aggregator --node A --node B writes aggregators in preference order; one --node writes aggregator', async (t) => {
  await writeFile(join(dir, 'aggs.json'), await readFile(net()));
  const read = async () => JSON.parse(await readFile(join(dir, 'aggs.json'), 'utf8'));
  const out = await ok(['net', 'set-aggregator', '@aggs.json', '--node', 'bravo', '--node', 'alpha']);
  t.regex(out, /aggregators are now "bravo", "alpha" \(in preference order\)/);
  t.like(await read(), { aggregators: ['bravo', 'alpha'], aggregator: undefined });
  await ok(['net', 'set-aggregator', '@aggs.json', '--node', 'alpha']);
  t.like(await read(), { aggregators: undefined, aggregator: 'alpha' });
  const shown = await ok(['net', 'show', '@aggs.json']);
  t.regex(shown, /alpha.*aggregator/);
});
