// networkd's record of accepted redemptions (src/networkd/redemptions.ts): written durably (0600)
// before the NR changes, read back after a restart, forgotten with the network, and a damaged file
// stops the start naming the file and the entry rather than being guessed at.
import test from 'ava';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Redemption, generateKeyPair, ready } from '../../../src/netdef/index.js';
import { RedemptionLog } from '../../../src/networkd/redemptions.js';

let dir = '';
test.before(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'zmesh-redemptions-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

const redemption = (name: string): Redemption => ({
  network: 'corp',
  name,
  inviteKey: generateKeyPair().publicKey,
  publicKey: generateKeyPair().publicKey,
  redeemedAt: '2026-12-07T00:00:00.000Z',
});

test('a redemption is on disk (0600) when add resolves and survives a restart; forget removes it', async (t) => {
  const where = join(dir, 'durable');
  const log = RedemptionLog.open(where);
  const first = redemption('laptop');
  const second = redemption('phone');
  await log.add(first);
  await log.add(second);
  t.is((await stat(join(where, 'corp.json'))).mode & 0o777, 0o600);
  t.deepEqual(RedemptionLog.open(where).of('corp'), [first, second], 'read back by a new process');
  t.deepEqual(RedemptionLog.open(where).of('other'), []);
  await log.forget('corp');
  t.deepEqual(RedemptionLog.open(where).of('corp'), []);
});

test('a damaged file stops the start, naming the file and the entry', async (t) => {
  const where = join(dir, 'damaged');
  RedemptionLog.open(where);
  await writeFile(join(where, 'corp.json'), '{"version":1,"redemptions":["zmesh-redeem-v2.e30"]}');
  const error = t.throws(() => RedemptionLog.open(where));
  t.regex(error.message, /corp\.json is unusable: redemptions\[0\]: malformed redemption/);
  await writeFile(join(where, 'corp.json'), 'not json');
  t.throws(() => RedemptionLog.open(where), { message: /corp\.json is unusable: not JSON/ });
});
