// `zmesh net invite`, `zmesh net redeem` and `zmesh net revoke` in-process on real files: the
// invitation (a secret) goes to stdout only, the definition keeps its public half; the via node's
// report is recorded once; a second, revoked or malformed one exits 2 and leaves FILE
// byte-identical. (`zmesh peer redeem` runs over a real tunnel: test/e2e/invitation-redeem.test.ts.)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type ToolRun, zmeshInProcess } from '../../harness/zmesh-in-process.js';
import { saveDefinition } from '../../../src/cli/definition-io.js';
import {
  type Invitation,
  addNode,
  assertNodeRecord,
  createNetwork,
  formatRedemption,
  generateKeyPair,
  parseInvitation,
  ready,
  sodiumKeySource,
} from '../../../src/netdef/index.js';

let dir = '';

const zmesh = (...argv: string[]): Promise<ToolRun> => zmeshInProcess(argv);

test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-invite-'));
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The via node's report of `invitation` redeemed now with a fresh key. */
function viaReport(invitation: Invitation): string {
  return formatRedemption({
    network: invitation.network,
    name: invitation.name,
    inviteKey: invitation.inviteKey,
    publicKey: generateKeyPair().publicKey,
    redeemedAt: new Date().toISOString(),
  });
}

test('invite, the via node report, accept: once; a second, revoked or malformed report is refused with FILE unchanged', async (t) => {
  const file = join(dir, 'net.json');
  let def = createNetwork('inv', '10.1.0.0/16');
  def = addNode(
    def,
    assertNodeRecord({
      id: 'a',
      identityKey: generateKeyPair().publicKey,
      endpoints: ['198.51.100.11'],
      hidden: false,
    }),
    sodiumKeySource,
  );
  await saveDefinition(file, def);

  const invited = await zmesh('net', 'invite', file, '--name', 'laptop', '--via', 'a', '--expires', '2h');
  t.is(invited.status, 0, invited.stderr);
  const invitation = invited.stdout.trim();
  t.regex((await zmesh('net', 'show', file)).stdout, /laptop +10\.1\.255\.254 +a +pending +20/);
  const secret = parseInvitation(invitation).secret;
  t.false((await readFile(file, 'utf8')).includes(secret), 'FILE never holds the secret');
  t.false(invited.stderr.includes(secret));
  t.regex(invited.stderr, /invited "laptop" at 10\.1\.255\.254 through a/);

  const redemption = viaReport(parseInvitation(invitation));

  const accepted = await zmesh('net', 'redeem', file, '--redemption', redemption);
  t.is(accepted.status, 0, accepted.stderr);
  t.regex(accepted.stdout, /redeemed "laptop"/);
  const after = await readFile(file, 'utf8');
  t.truthy(JSON.parse(after).externalPeers[0].publicKey);

  t.regex(
    (await zmesh('net', 'show', file)).stdout,
    /EXTERNAL PEER +ADDRESS +VIA +INVITATION +EXPIRES\nlaptop +10\.1\.255\.254 +a +redeemed +-\n/,
  );
  const again = await zmesh('net', 'redeem', file, '--redemption', redemption);
  t.is(again.status, 2);
  t.regex(again.stderr, /--redemption: the invitation for "laptop" was already redeemed/);
  const forged = await zmesh('net', 'redeem', file, '--redemption', 'zmesh-redeem-v2.eyJ4IjoxfQ');
  t.is(forged.status, 2);
  t.regex(forged.stderr, /malformed redemption/);
  // Without --redemption the reports come from the nodes' status keys: only an etcd store has them.
  const noReport = await zmesh('net', 'redeem', file);
  t.is(noReport.status, 2);
  t.regex(noReport.stderr, /--redemption: required unless --store names an etcd:\/\/… store/);
  t.is(await readFile(file, 'utf8'), after);

  const badExpiry = await zmesh('net', 'invite', file, '--name', 'x', '--via', 'a', '--expires', 'soon');
  t.regex(badExpiry.stderr, /--expires: "soon" is not a duration/);
  const inSubnet = await zmesh('net', 'invite', file, '--name', 'x', '--via', 'a', '--address', '10.1.0.7');
  t.regex(inSubnet.stderr, /--address: 10\.1\.0\.7 is inside a's subnet/);
  t.is(await readFile(file, 'utf8'), after);

  // A revoked invitation cannot be redeemed; revoking a redeemed peer drops it.
  const phone = (await zmesh('net', 'invite', file, '--name', 'phone', '--via', 'a')).stdout.trim();
  t.regex((await zmesh('net', 'revoke', file, '--name', 'phone')).stdout, /revoked "phone"/);
  const late = viaReport(parseInvitation(phone));
  const refused = await zmesh('net', 'redeem', file, '--redemption', late);
  t.is(refused.status, 2);
  t.regex(refused.stderr, /--redemption: no invitation for "phone" \(revoked\?\)/);
  t.is((await zmesh('net', 'revoke', file, '--name', 'laptop')).status, 0);
  t.false('externalPeers' in JSON.parse(await readFile(file, 'utf8')));
  t.regex((await zmesh('net', 'revoke', file, '--name', 'laptop')).stderr, /--name: no external peer "laptop"/);
});

test('peer redeem refuses bad input before touching anything: interface name, --wait, malformed or tampered INVITE', async (t) => {
  const configDir = join(dir, 'peer');
  const cases: [string[], RegExp][] = [
    [['--interface', 'way-too-long-name0'], /--interface: "way-too-long-name0" is not an interface name/],
    [['--wait', '0'], /--wait: "0" is not a number of seconds from 1 to 600/],
    [['--wait', 'soon'], /--wait: "soon" is not a number of seconds/],
  ];
  const invitation = `zmesh-invite-v2.${Buffer.from('{"network":"x"}').toString('base64url')}`;
  for (const [options, message] of cases) {
    const r = await zmesh('peer', 'redeem', invitation, '--config-dir', configDir, ...options);
    t.is(r.status, 2, options.join(' '));
    t.regex(r.stderr, message);
  }
  const malformed = await zmesh('peer', 'redeem', invitation, '--config-dir', configDir);
  t.is(malformed.status, 2);
  t.regex(malformed.stderr, /INVITE: malformed invitation: field "name"/);
  const old = await zmesh('peer', 'redeem', 'zmesh-invite-v1.e30', '--config-dir', configDir);
  t.regex(old.stderr, /INVITE: .*not a zmesh invitation \(it must start with zmesh-invite-v2\.\)/);
  await t.throwsAsync(readFile(join(configDir, 'zmesh0.conf')), { code: 'ENOENT' }, 'nothing written');
});
