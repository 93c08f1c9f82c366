import test from 'ava';
import { decode, kinds, Pair, payload } from './helpers/pair.js';
import type { InstalledKeypair } from '../../../src/wg/protocol.js';

const installed = (outputs: readonly { kind: string }[]) =>
  outputs
    .filter((o): o is { kind: 'installKeypair'; keypair: InstalledKeypair } => o.kind === 'installKeypair')
    .map((o) => o.keypair);

for (const withPsk of [false, true]) {
  for (const initiatorName of ['a', 'b'] as const) {
    const label = `${withPsk ? 'with' : 'without'} a preshared key, ${initiatorName} initiating`;
    test(`a full handshake then transport both ways, ${label}`, async (t) => {
      const pair = await Pair.create(withPsk ? { presharedKey: new Uint8Array(32).fill(0x42) } : {});
      const initiator = pair[initiatorName];
      const responder = pair.other(initiator);
      pair.handshake(initiator);

      const [initiatorKeys] = installed(initiator.outputs);
      const [responderKeys] = installed(responder.outputs);
      t.truthy(initiatorKeys && responderKeys);
      t.true(initiatorKeys!.initiator);
      t.false(responderKeys!.initiator);
      t.deepEqual(initiatorKeys!.sendKey, responderKeys!.receiveKey, 'initiator send key = responder receive key');
      t.deepEqual(initiatorKeys!.receiveKey, responderKeys!.sendKey, 'initiator receive key = responder send key');
      t.notDeepEqual(initiatorKeys!.sendKey, initiatorKeys!.receiveKey);
      t.is(initiatorKeys!.remoteIndex, responderKeys!.localIndex);
      t.is(responderKeys!.remoteIndex, initiatorKeys!.localIndex);

      const initiatorKinds = kinds(initiator.outputs);
      t.true(
        initiatorKinds.indexOf('sendKeepalive') > initiatorKinds.indexOf('installKeypair'),
        'the initiator sends a keepalive once it has the response',
      );
      t.true(
        kinds(responder.outputs).includes('handshakeComplete'),
        'the responder completes when the keepalive arrives on its next keypair',
      );
      t.is(initiator.core.peerStatus(responder.publicKey)!.lastHandshakeWallMs, pair.clock.wall);
      t.is(responder.core.peerStatus(initiator.publicKey)!.keypairs.current, responderKeys!.localIndex);

      pair.sendData(initiator, payload('ping from the initiator'));
      pair.sendData(responder, payload('pong from the responder'));
      pair.pump();
      t.deepEqual(responder.delivered.map(decode), ['ping from the initiator']);
      t.deepEqual(initiator.delivered.map(decode), ['pong from the responder']);
    });
  }
}

test('different preshared keys make the handshake fail at the initiator, which installs nothing', async (t) => {
  const pair = await Pair.create({
    presharedKey: new Uint8Array(32).fill(1),
    presharedKeyB: new Uint8Array(32).fill(2),
  });
  pair.handshake(pair.a);
  t.deepEqual(installed(pair.a.outputs), []);
  t.true(pair.a.drops.some((d) => d.reason === 'empty-decrypt'));
  t.is(pair.a.core.peerStatus(pair.b.publicKey)!.lastHandshakeWallMs, null);
});

test('the responder may not send on its new keypair before it has received on it', async (t) => {
  const pair = await Pair.create();
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  const initiation = pair.inFlight.shift()!;
  pair.deliver(initiation); // b consumes the initiation and answers
  const [responderKeys] = installed(pair.b.outputs);
  t.false(responderKeys!.initiator, 'the responder keypair is installed as next');
  t.false(kinds(pair.b.outputs).includes('sendKeepalive'));
  t.is(pair.b.core.peerStatus(pair.a.publicKey)!.keypairs.next, responderKeys!.localIndex);
  t.is(pair.b.core.peerStatus(pair.a.publicKey)!.keypairs.current, null);
  pair.sendData(pair.b, payload('too early'));
  t.is(pair.b.transport.queue.length, 1, 'data waits in the queue');
  pair.pump(); // the response reaches a, a sends its keepalive, b confirms and sends the queued packet
  t.deepEqual(pair.a.delivered.map(decode), ['too early']);
  t.is(pair.b.core.peerStatus(pair.a.publicKey)!.keypairs.current, responderKeys!.localIndex);
});

test('an authenticated initiation from a new address roams the peer endpoint', async (t) => {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  pair.a.endpoint = { address: '2001:db8::7', port: 40000 };
  pair.clock.advance(6000);
  pair.handshake(pair.a);
  const endpoints = pair.b.outputs
    .filter((o) => o.kind === 'endpoint')
    .map((o) => (o as { endpoint: unknown }).endpoint);
  t.deepEqual(endpoints.at(-1), { address: '2001:db8::7', port: 40000 });
  pair.sendData(pair.b, payload('to the new address'));
  pair.pump();
  t.deepEqual(pair.a.delivered.map(decode), ['to the new address']);
});

test('under load an initiation without mac2 gets a cookie reply, and the retry with the cookie completes', async (t) => {
  const pair = await Pair.create();
  pair.b.underLoad = true;
  pair.apply(pair.a, pair.a.core.initiateHandshake(pair.b.publicKey));
  pair.pump();
  t.deepEqual(kinds(pair.b.outputs), ['sendTo'], 'b only answers with a cookie reply');
  t.is(pair.sent.at(-1)!.bytes.length, 64);
  t.deepEqual(installed(pair.a.outputs), []);
  pair.run(5400); // the retransmission carries mac2 made with the cookie
  t.is(installed(pair.a.outputs).length, 1);
  t.true(pair.a.core.peerStatus(pair.b.publicKey)!.lastHandshakeWallMs !== null);
});

test('a rekey after REKEY_AFTER_TIME keeps traffic flowing on the new keypair, the old one kept as previous', async (t) => {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  const [first] = installed(pair.a.outputs);
  pair.run(120_000, 1000);
  pair.sendData(pair.a, payload('after two minutes'));
  pair.pump();
  const all = installed(pair.a.outputs);
  t.is(all.length, 2, 'a new handshake happened');
  t.is(pair.a.core.peerStatus(pair.b.publicKey)!.keypairs.previous, first!.localIndex);
  pair.sendData(pair.a, payload('on the new keypair'));
  pair.sendData(pair.b, payload('and back'));
  pair.pump();
  t.deepEqual(pair.b.delivered.map(decode), ['after two minutes', 'on the new keypair']);
  t.deepEqual(pair.a.delivered.map(decode), ['and back']);
});

test('without traffic keypairs expire after REJECT_AFTER_TIME and data then needs a new handshake', async (t) => {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  pair.run(180_000, 1000);
  t.is(pair.a.core.peerStatus(pair.b.publicKey)!.keypairs.current, null);
  t.is(pair.a.transport.current, null, 'the data plane dropped it too');
  pair.sendData(pair.a, payload('later'));
  pair.pump();
  t.deepEqual(pair.b.delivered.map(decode), ['later'], 'queued, handshake, then sent');
});

test('removing a peer drops its keypairs, queued packets and indices', async (t) => {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  t.true(pair.a.core.indexCount > 0);
  const outputs = pair.a.core.removePeer(pair.b.publicKey);
  t.deepEqual(kinds(outputs), ['expireKeypairs', 'dropQueued']);
  t.is(pair.a.core.indexCount, 0);
  t.false(pair.a.core.hasPeer(pair.b.publicKey));
  t.is(pair.a.core.peerStatus(pair.b.publicKey), null);
});

test('changing the private key drops every session, and the peer must learn the new key to handshake again', async (t) => {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  const { DH_GENERATE, DH_PUBLIC } = await import('../../../src/wg/crypto.js');
  const newKey = DH_GENERATE().privateKey;
  const outputs = pair.a.core.setPrivateKey(newKey);
  t.deepEqual(kinds(outputs), ['expireKeypairs']);
  t.is(pair.a.core.indexCount, 0);
  t.deepEqual(pair.a.core.publicKey, DH_PUBLIC(newKey));
  pair.apply(pair.a, outputs);
  pair.clock.advance(6000);
  pair.handshake(pair.a);
  t.true(
    pair.b.drops.some((d) => d.reason === 'unknown-peer'),
    'b does not know the new key',
  );
  t.deepEqual(pair.a.core.setPrivateKey(newKey), [], 'setting the same key again changes nothing');
});

test('a peer whose public key is our own is ignored, and removed when our key becomes it', async (t) => {
  const pair = await Pair.create();
  t.deepEqual(pair.a.core.upsertPeer(pair.a.publicKey), []);
  t.false(pair.a.core.hasPeer(pair.a.publicKey));
  const outputs = pair.a.core.setPrivateKey(pair.b.privateKey);
  t.true(kinds(outputs).includes('peerRemoved'));
  t.false(pair.a.core.hasPeer(pair.b.publicKey));
});

test('installed keys do not show when an output is logged or serialised', async (t) => {
  const pair = await Pair.create();
  pair.handshake(pair.a);
  const output = pair.a.outputs.find((o) => o.kind === 'installKeypair')!;
  const { inspect } = await import('node:util');
  const keypair = (output as { keypair: InstalledKeypair }).keypair;
  const hex = Buffer.from(keypair.sendKey).toString('hex');
  t.false(JSON.stringify(output).includes('sendKey'));
  t.false(inspect(output, { depth: 5 }).includes('sendKey'));
  t.false(inspect(pair.a.core, { depth: 5 }).includes(hex));
  t.is(keypair.sendKey.length, 32, 'the keys are there for the data plane');
});
