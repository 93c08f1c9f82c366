// `zmesh net invite`, `zmesh invite redeem` and `zmesh net redeem` in-process on real files: the
// invitation (a secret) goes to stdout only, the definition keeps its public half; the peer's
// config is 0600; a second or tampered redemption exits 2 and leaves FILE byte-identical.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { main } from '../../../src/cli/main.js';
import { saveDefinition } from '../../../src/cli/definition-io.js';
import {
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  parseInvitation,
  ready,
  sodiumKeySource,
} from '../../../src/netdef/index.js';

let dir = '';

async function zmesh(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: (s: string) => void (stdout += s),
    stderr: (s: string) => void (stderr += s),
    readStdin: async () => '',
  };
  return { status: await main(argv, io), stdout, stderr };
}

test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-invite-'));
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('invite, redeem on the peer, accept: once; a second or tampered redemption is refused with FILE unchanged', async (t) => {
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

  const conf = join(dir, 'laptop.conf');
  const redeemed = await zmesh('invite', 'redeem', invitation, '--config-out', conf);
  t.is(redeemed.status, 0, redeemed.stderr);
  t.is((await stat(conf)).mode & 0o777, 0o600);
  t.regex(
    await readFile(conf, 'utf8'),
    /^\[Interface\]\nPrivateKey = [A-Za-z0-9+/]{43}=\nAddress = 10\.1\.255\.254\/32/,
  );
  const redemption = redeemed.stdout.trim();
  t.regex(redemption, /^zmesh-redeem-v1\./);

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
  const forged = await zmesh('net', 'redeem', file, '--redemption', 'zmesh-redeem-v1.eyJ4IjoxfQ');
  t.is(forged.status, 2);
  t.regex(forged.stderr, /malformed redemption/);
  t.is(await readFile(file, 'utf8'), after);

  const exists = await zmesh('invite', 'redeem', invitation, '--config-out', conf);
  t.is(exists.status, 2);
  t.regex(exists.stderr, /already exists/);
  const badExpiry = await zmesh('net', 'invite', file, '--name', 'x', '--via', 'a', '--expires', 'soon');
  t.regex(badExpiry.stderr, /--expires: "soon" is not a duration/);
  const inSubnet = await zmesh('net', 'invite', file, '--name', 'x', '--via', 'a', '--address', '10.1.0.7');
  t.regex(inSubnet.stderr, /--address: 10\.1\.0\.7 is inside a's subnet/);
  t.is(await readFile(file, 'utf8'), after);

  // A revoked invitation cannot be redeemed; revoking a redeemed peer drops it.
  const phone = (await zmesh('net', 'invite', file, '--name', 'phone', '--via', 'a')).stdout.trim();
  t.regex((await zmesh('net', 'revoke', file, '--name', 'phone')).stdout, /revoked "phone"/);
  const late = (await zmesh('invite', 'redeem', phone, '--config-out', join(dir, 'phone.conf'))).stdout.trim();
  const refused = await zmesh('net', 'redeem', file, '--redemption', late);
  t.is(refused.status, 2);
  t.regex(refused.stderr, /--redemption: no invitation for "phone"/);
  t.is((await zmesh('net', 'revoke', file, '--name', 'laptop')).status, 0);
  t.false('externalPeers' in JSON.parse(await readFile(file, 'utf8')));
  t.regex((await zmesh('net', 'revoke', file, '--name', 'laptop')).stderr, /--name: no external peer "laptop"/);
});
