// The node status value (nodes/<id>/status/<net>) with the redemptions a via node reports: it
// round-trips, and a bad one is refused as EBADVALUE naming the key and the JSON path.
import test from 'ava';
import { generateKeyPair } from '../../../src/netdef/index.js';
import { StoreError } from '../../../src/store/errors.js';
import { statusKey } from '../../../src/store/keys.js';
import { type NodeStatus, readStatus } from '../../../src/store/values.js';
import { initKeys } from '../netdef/fixtures.js';

let status: NodeStatus;
const KEY = statusKey('alpha', 'net');

test.before(async () => {
  await initKeys();
  status = {
    network: 'net',
    revision: 7,
    state: 'applied',
    time: '2026-12-07T04:00:00.000Z',
    redemptions: [
      {
        name: 'laptop',
        inviteKey: generateKeyPair().publicKey,
        publicKey: generateKeyPair().publicKey,
        redeemedAt: '2026-12-07T04:01:02.345Z',
      },
    ],
  };
});

test('a status with redemptions round-trips; one without them still reads', (t) => {
  t.deepEqual(readStatus(KEY, JSON.stringify(status)), status);
  const { redemptions: _, ...plain } = status;
  t.deepEqual(readStatus(KEY, JSON.stringify(plain)), plain);
});

function refused(t: import('ava').ExecutionContext, value: unknown, path: string, reason: RegExp): void {
  const error = t.throws(() => readStatus(KEY, JSON.stringify(value)), { instanceOf: StoreError });
  t.is(error?.code, 'EBADVALUE');
  t.is(error?.context.key, KEY);
  t.is(error?.context.path, path);
  t.true(error?.message.startsWith(`bad value at ${KEY}: ${path}: `), error?.message);
  t.regex(error?.message ?? '', reason);
}

test('bad redemptions are refused naming the key and the path', (t) => {
  const redemption = status.redemptions![0]!;
  const with_ = (r: object) => ({ ...status, redemptions: [{ ...redemption, ...r }] });
  refused(t, with_({ publicKey: 'not-a-key' }), '/redemptions/0/publicKey', /key/);
  refused(t, with_({ inviteKey: 'AAAA' }), '/redemptions/0/inviteKey', /key/);
  refused(t, with_({ redeemedAt: 'yesterday' }), '/redemptions/0/redeemedAt', /time/);
  refused(t, with_({ name: 'Not A Name!' }), '/redemptions/0/name', /.+/);
  refused(t, with_({ secret: redemption.publicKey }), '/redemptions/0/secret', /.+/);
  refused(t, { ...status, redemptions: 'laptop' }, '/redemptions', /.+/);
  refused(t, { ...status, network: 'other' }, '/network', /not the network of this key/);
});
