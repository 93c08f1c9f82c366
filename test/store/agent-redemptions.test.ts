// A via node's redemptions through the store (issue #16 §2): networkd (scripted) accepted one, the
// agent writes it into nodes/<id>/status/<net>, `zmesh net redeem --store` folds it into one signed
// revision (a forged report from another node and a bad status value are refused on their own),
// and the node applies the revision that carries the permanent key.
import test from 'ava';
import {
  addNode,
  createNetwork,
  formatRedemption,
  generateKeyPair,
  parseInvitation,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { statusKey } from '../../src/store/index.js';
import { waitFor } from '../harness/index.js';
import { okBehaviour } from '../unit/provisiond/fake-networkd.js';
import { initNodes, nodes, rig, statusOf } from './agent-rig.js';

test.before(initNodes);

test("networkd's redemption reaches the store; net redeem --store folds it and the next revision carries the key", async (t) => {
  const { store, start, fake, cluster, zmesh } = await rig(t);
  const admin = store();
  const def = addNode(
    addNode(createNetwork('net', '10.40.0.0/16'), nodes.alpha!.record, sodiumKeySource),
    nodes.bravo!.record,
    sodiumKeySource,
  );
  await admin.createNetwork(def);
  const invited = [];
  for (const name of ['laptop', 'phone']) {
    const made = await zmesh(['net', 'invite', 'net', '--store', cluster.url, '--name', name, '--via', 'alpha']);
    t.is(made.status, 0, made.stderr);
    invited.push(parseInvitation(made.stdout));
  }
  const [laptop, phone] = invited as [ReturnType<typeof parseInvitation>, ReturnType<typeof parseInvitation>];
  const invitedRevision = def.revision + 2;

  // networkd's view of "net" holds what it accepted; nothing at first.
  const accepted: string[] = [];
  fake.behaviour = (request, executions) =>
    request.method === 'GET' && request.path === '/v1/networks/net'
      ? { status: 200, body: { network: 'net', redemptions: accepted } }
      : okBehaviour(request, executions);
  await start({ redemptionPollMs: 100 });
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === invitedRevision, {
    what: 'the invitations applied',
    timeoutMs: 15_000,
  });
  t.is((await statusOf(admin, 'alpha', 'net'))?.redemptions, undefined, 'none accepted yet');

  const permanent = generateKeyPair().publicKey;
  const redemption = {
    name: 'laptop',
    inviteKey: laptop.inviteKey,
    publicKey: permanent,
    redeemedAt: new Date().toISOString(),
  };
  accepted.push(formatRedemption({ network: 'net', ...redemption }));
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.redemptions?.length === 1, {
    what: "the redemption in alpha's status (polled)",
    timeoutMs: 15_000,
  });
  const status = await statusOf(admin, 'alpha', 'net');
  t.deepEqual(status?.redemptions, [redemption], 'public data only');
  t.is(status?.state, 'applied');
  t.is(status?.revision, invitedRevision);

  // bravo is not phone's via NR: its report is refused, laptop's still lands; charlie's bad value is named.
  const forged = { ...redemption, name: 'phone', inviteKey: phone.inviteKey, publicKey: generateKeyPair().publicKey };
  await admin.client
    .put(statusKey('bravo', 'net'))
    .value(JSON.stringify({ ...status, redemptions: [forged] }))
    .exec();
  await admin.client
    .put(statusKey('charlie', 'net'))
    .value(JSON.stringify({ ...status, redemptions: [{ ...redemption, publicKey: 'not-a-key' }] }))
    .exec();

  const folded = await zmesh(['net', 'redeem', 'net', '--store', cluster.url]);
  t.is(folded.status, 0, folded.stderr);
  t.regex(folded.stdout, /^redeemed "laptop" \(reported by alpha\): its own key replaces the invitation$/m);
  t.regex(
    folded.stdout,
    /^refused "phone" \(reported by bravo\): reported by "bravo", not by "alpha", the invitation's via NR$/m,
  );
  t.regex(folded.stdout, new RegExp(`^revision ${invitedRevision + 1}$`, 'm'));
  t.regex(
    folded.stderr,
    /skipped a node's report: bad value at \S*nodes\/charlie\/status\/net: \/redemptions\/0\/publicKey: /,
  );

  const after = await admin.readNetwork('net');
  t.is(after?.revision, invitedRevision + 1, 'one revision');
  t.is(after?.externalPeers?.find((p) => p.name === 'laptop')?.publicKey, permanent);
  t.is(after?.externalPeers?.find((p) => p.name === 'phone')?.publicKey, undefined);

  // The node verifies and applies the signed revision that carries the key.
  await waitFor(async () => (await statusOf(admin, 'alpha', 'net'))?.revision === invitedRevision + 1, {
    what: 'the folded revision applied',
    timeoutMs: 15_000,
  });
  const put = fake.requests.filter((r) => r.method === 'PUT').at(-1)?.body as typeof after;
  t.is(put?.externalPeers?.find((p) => p.name === 'laptop')?.publicKey, permanent);

  const shown = await zmesh(['net', 'show', 'net', '--store', cluster.url]);
  t.is(shown.status, 0, shown.stderr);
  t.regex(shown.stdout, /laptop +\S+ +alpha +redeemed/);
  t.regex(shown.stdout, /phone +\S+ +alpha +pending/);

  // Again: nothing new (alpha still reports laptop, now recorded); bravo's forgery is still refused.
  const again = await zmesh(['net', 'redeem', 'net', '--store', cluster.url]);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /nothing new to record \(2 reported, 1 already recorded\)/);
  t.is((await admin.readNetwork('net'))?.revision, invitedRevision + 1, 'no empty revision');
});
