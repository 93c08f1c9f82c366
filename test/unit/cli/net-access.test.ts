// `zmesh net group|associate|dissociate|explain` in-process through the real command table, on
// real definition files in a temporary directory: the verbs change FILE and bump the revision;
// bad input exits 2 naming the option and leaves FILE byte-identical; explain answers allow or
// deny with the deciding association.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type ToolRun, zmeshInProcess } from '../../harness/zmesh-in-process.js';
import {
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  ready,
  sodiumKeySource,
} from '../../../src/netdef/index.js';
import { saveDefinition } from '../../../src/cli/definition-io.js';

/** The association of the first test, as options (associate and dissociate take the same). */
const WEB_TO_DB = ['--from', 'web', '--to', 'db', '--protocol', 'tcp', '--port', '5432', '--port', '6000-6010'];

let dir = '';
let file = '';

const zmesh = (...argv: string[]): Promise<ToolRun> => zmeshInProcess(argv);

test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-acl-'));
  file = join(dir, 'net.json');
  let def = createNetwork('acl', '10.1.0.0/16');
  for (const id of ['a', 'b']) {
    def = addNode(
      def,
      assertNodeRecord({ id, identityKey: generateKeyPair().publicKey, endpoints: ['198.51.100.1'], hidden: false }),
      sodiumKeySource,
    );
  }
  await saveDefinition(file, def);
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.serial('group, associate, explain, dissociate, remove: each change written with a new revision', async (t) => {
  t.is((await zmesh('net', 'group', 'add', file, '--name', 'web', '--cidr', '10.1.0.0/24')).status, 0);
  const db = await zmesh(
    'net',
    'group',
    'add',
    file,
    '--name',
    'db',
    '--cidr',
    '10.1.1.0/25',
    '--cidr',
    '10.1.1.200/32',
    '--intra-group',
  );
  t.regex(db.stdout, /added group "db" \(10\.1\.1\.0\/25, 10\.1\.1\.200\/32, intra-group\); revision 5/);
  const assoc = await zmesh('net', 'associate', file, ...WEB_TO_DB);
  t.regex(assoc.stdout, /associated web -> db tcp 5432,6000-6010; revision 6/);
  t.deepEqual(
    (await zmesh('net', 'explain', file, '--from', '10.1.0.7', '--to', '10.1.1.9:5432')).stdout,
    'allow tcp 10.1.0.7 -> 10.1.1.9:5432: association 0 (web -> db)\n',
  );
  t.deepEqual(
    (await zmesh('net', 'explain', file, '--from', '10.1.1.9', '--to', '10.1.0.7', '--port', '5432')).stdout,
    'deny tcp 10.1.1.9 -> 10.1.0.7:5432: default: no association allows it\n',
  );
  t.regex(
    (await zmesh('net', 'explain', file, '--from', '10.1.1.9', '--to', '10.1.1.200', '--protocol', 'icmp')).stdout,
    /^allow icmp .*bridged/,
  );
  t.regex(
    (await zmesh('net', 'explain', file, '--from', '10.1.0.9', '--to', '10.1.1.200', '--protocol', 'icmp')).stdout,
    /^deny icmp/,
  );
  t.regex(
    (await zmesh('net', 'show', file)).stdout,
    /GROUP +CIDRS +INTRA\nweb +10\.1\.0\.0\/24 +no\ndb +10\.1\.1\.0\/25,10\.1\.1\.200\/32 +yes\n\nASSOCIATION\nweb -> db tcp 5432,6000-6010\n/,
  );
  t.is((await zmesh('net', 'dissociate', file, ...WEB_TO_DB)).status, 0);
  t.regex(
    (await zmesh('net', 'explain', file, '--from', '10.1.1.9', '--to', '10.1.0.7:22')).stdout,
    /^allow .*no associations/,
  );
  t.is((await zmesh('net', 'group', 'remove', file, '--name', 'db')).status, 0);
  const def = JSON.parse(await readFile(file, 'utf8'));
  t.is(def.revision, 8);
  t.deepEqual(def.groups, [{ name: 'web', cidrs: ['10.1.0.0/24'] }]);
  t.false('associations' in def);
});

test.serial('bad input exits 2 naming the option or JSON path and leaves FILE byte-identical', async (t) => {
  const before = await readFile(file, 'utf8');
  const cases: [string[], RegExp][] = [
    [
      ['net', 'group', 'add', file, '--name', 'far', '--cidr', '10.9.0.0/24'],
      /--cidr 10\.9\.0\.0\/24: 10\.9\.0\.0\/24 is outside ipRange/,
    ],
    [['net', 'group', 'add', file, '--name', 'web', '--cidr', '10.1.2.0/24'], /--name: group "web" already exists/],
    [['net', 'group', 'add', file, '--name', 'x'], /--cidr: give at least one CIDR/],
    [['net', 'group', 'rename', file, '--name', 'x'], /ACTION: "rename" is not add or remove/],
    [['net', 'associate', file, '--from', 'web', '--to', 'nosuch'], /--to: group "nosuch" is not defined/],
    [
      ['net', 'associate', file, '--from', 'web', '--to', 'web', '--port', '80'],
      /--port: ports need protocol "tcp" or "udp"/,
    ],
    [
      ['net', 'associate', file, '--from', 'web', '--to', 'web', '--protocol', 'sctp'],
      /--protocol: "sctp" is not tcp, udp or icmp/,
    ],
    [['net', 'dissociate', file, '--from', 'web', '--to', 'web'], /no association web -> web/],
    [['net', 'explain', file, '--from', '10.1.0.1', '--to', '10.1.1.1'], /--port: tcp needs a destination port/],
    [['net', 'explain', file, '--from', 'x', '--to', '10.1.1.1:80'], /--from: "x" is not an IPv4 address/],
  ];
  for (const [argv, message] of cases) {
    const run = await zmesh(...argv);
    t.is(run.status, 2, argv.join(' '));
    t.regex(run.stderr, message, argv.join(' '));
  }
  t.is(await readFile(file, 'utf8'), before);
});

// Overlapping ports mean their merged union (as nft lists the set back): associating what an
// association already allows is refused naming it, and dissociate finds it by the merged ports.
test.serial('associate refuses an association allowing what one does; dissociate matches merged ports', async (t) => {
  const webToWeb = ['--from', 'web', '--to', 'web', '--protocol', 'tcp', '--port', '80-443'];
  const made = await zmesh('net', 'associate', file, ...webToWeb, '--port', '443');
  t.is(made.status, 0, made.stderr);
  const before = await readFile(file, 'utf8');
  const again = await zmesh('net', 'associate', file, ...webToWeb);
  t.is(again.status, 2);
  t.regex(again.stderr, /--from\/--to: duplicate association: allows what \/associations\/0 allows/);
  t.is(await readFile(file, 'utf8'), before);
  const gone = await zmesh('net', 'dissociate', file, ...webToWeb);
  t.is(gone.status, 0, gone.stderr);
  t.false('associations' in JSON.parse(await readFile(file, 'utf8')));
});
