/**
 * networkd runs only what an admin it trusts signed (DESIGN.md "Trust"): a real networkd in a
 * node namespace is sent definitions tampered after signing, unsigned, signed by a stranger,
 * replayed, and a trust update; every refusal is a 400 with the reason (409 for an old
 * revision), and the last good revision keeps running — the state, the NR and its workload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  AdminKey,
  addTrustChange,
  signTrustChange,
  keyLabel,
  rotateNodeKey,
  signDefinition,
  sodiumKeySource,
  type NetworkDefinition,
} from '../../src/netdef/index.js';
import { worldFor } from '../harness/ava.js';
import { ping } from '../harness/index.js';
import { call, makeNode, startNetworkd } from './networkd-world.js';

const mutable = (d: NetworkDefinition): any => JSON.parse(JSON.stringify(d));

test('tampered, unsigned, untrusted and replayed definitions are refused with the reason; a trust update lets the new admin sign', async (t) => {
  const w = await worldFor(t);
  const node = await makeNode(w);
  await startNetworkd(w, node);
  const name = `${w.prefix}-trust`;
  const put = (body: unknown) => call(node.socket, 'PUT', `/v1/networks/${name}`, body);
  const applied = await put(node.definition(name, 2));
  t.is(applied.status, 200, JSON.stringify(applied.body));
  const workload = await w.namespace('wl');
  t.is(
    (
      await call(node.socket, 'POST', `/v1/networks/${name}/workloads`, {
        workload: 'c1',
        netns: workload.path,
        ifname: 'eth0',
      })
    ).status,
    200,
  );
  const stored = () => readFileSync(join(node.stateDir, 'networkd', 'networks', `${name}.json`), 'utf8');
  const good = stored();

  const signed = node.definition(name, 3);
  const mismatch = `/signature: refused: the signature by admin key ${keyLabel(node.admin.publicKey())} does not match the definition (altered after signing?)`;
  const stranger = AdminKey.generate();
  const cases: [string, unknown, number, string][] = [
    [
      'one byte changed (the listen port)',
      {
        ...mutable(signed),
        resources: [{ ...mutable(signed).resources[0], listenPort: signed.resources[0]!.listenPort + 1 }],
      },
      400,
      mismatch,
    ],
    [
      'an endpoint redirected',
      { ...mutable(signed), resources: [{ ...mutable(signed).resources[0], endpoints: ['203.0.113.66:51820'] }] },
      400,
      mismatch,
    ],
    [
      'a key swapped',
      { ...mutable(signed), resources: [{ ...mutable(signed).resources[0], wgPublicKey: stranger.publicKey() }] },
      400,
      mismatch,
    ],
    [
      'a trust change slipped in',
      { ...mutable(signed), trust: [signTrustChange([], { add: [stranger.publicKey()], remove: [] }, stranger)] },
      400,
      mismatch,
    ],
    [
      'unsigned',
      (({ signature: _s, ...rest }) => rest)(mutable(signed)),
      400,
      '/signature: refused: the definition is not signed (sign it with zmesh --admin-key FILE)',
    ],
    [
      'signed by an admin the node does not trust',
      signDefinition(signed, stranger),
      400,
      `/signature: refused: signed by admin key ${keyLabel(stranger.publicKey())}, which this node does not trust`,
    ],
    [
      'an older revision replayed',
      node.definition(name, 1),
      409,
      '/revision: revision 1 is older than the applied revision 2',
    ],
  ];
  for (const [what, body, status, message] of cases) {
    const reply = await put(body);
    t.is(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
    t.is(reply.body.error?.message, message, what);
  }
  t.is(stored(), good, 'the stored revision is still the last good one');
  t.is((await call(node.socket, 'GET', `/v1/networks/${name}`)).body.revision, 2);
  t.is((await ping(workload, '10.77.0.1', { count: 3 })).loss, 0, 'the last good revision keeps running');

  // A trust change signed by the trusted admin: the next revision may be signed by the new one.
  const next = AdminKey.generate();
  const rotation = signDefinition(
    addTrustChange(node.definition(name, 2), { add: [next.publicKey()], remove: [node.admin.publicKey()] }, node.admin),
    node.admin,
  );
  t.is((await put(rotation)).status, 200);
  t.deepEqual(
    readFileSync(join(node.stateDir, 'trusted-admin-keys'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#')),
    [next.publicKey(), 'through 1'],
  );
  const byNew = signDefinition({ ...node.definition(name, 4), trust: rotation.trust } as NetworkDefinition, next);
  const accepted = await put(byNew);
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
  const byOld = await put(node.definition(name, 5));
  t.is(byOld.status, 400);
  t.regex(byOld.body.error.message, /which this node does not trust/);

  // Pinning: a validly signed key change without a rotation record is refused naming the node and field.
  const rotated = rotateNodeKey(
    { ...node.definition(name, 4), trust: rotation.trust } as NetworkDefinition,
    'alpha',
    sodiumKeySource,
  );
  const { identityChanges: _record, ...bare } = mutable(rotated);
  const silent = await put(signDefinition(bare, next));
  t.is(silent.status, 400);
  t.is(
    silent.body.error.message,
    '/resources/0/wgPublicKey: pinned: node "alpha"\'s WireGuard key changed without a rotation or reprovision record for it (zmesh net rotate-key / net reprovision write one)',
  );
  t.is((await call(node.socket, 'GET', `/v1/networks/${name}`)).body.revision, 4);
  const explicit = await put(signDefinition(rotated, next));
  t.is(explicit.status, 200, JSON.stringify(explicit.body));
  t.is(
    (await call(node.socket, 'GET', `/v1/networks/${name}`)).body.device?.publicKey ??
      rotated.resources[0]!.wgPublicKey,
    rotated.resources[0]!.wgPublicKey,
  );
});
