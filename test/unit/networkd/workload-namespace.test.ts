import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { NetworkdError } from '../../../src/networkd/errors.js';
import {
  INIT_NETNS_INODE,
  forbiddenMatch,
  nodeNamespaces,
  readNetnsIdentity,
  sameHolder,
  sameNamespace,
} from '../../../src/networkd/workload-namespace.js';

// Only stat() is used here: nothing enters or changes a namespace.
test('the root namespace is refused by device and inode, whichever path names it, even where /proc/1/ns/net is unreadable', (t) => {
  const own = readNetnsIdentity('/proc/self/ns/net');
  const root = { dev: own.dev, ino: INIT_NETNS_INODE, processStart: null };
  t.is(forbiddenMatch(root, []), 'the root (init) network namespace');
  t.is(
    forbiddenMatch({ ...root, processStart: '12345' }, []),
    'the root (init) network namespace',
    'reached through any process',
  );
  t.is(
    forbiddenMatch({ ...root, dev: `${own.dev}0` }, []),
    null,
    'the same inode number on another file system is not it',
  );
  // This process: the root namespace when the test runs there, else its own namespace (nodeNamespaces).
  t.regex(forbiddenMatch(own, nodeNamespaces(null)) ?? '', own.ino === INIT_NETNS_INODE ? /root/ : /networkd's own/);
});

test('a path is compared by what it names: another file is no namespace of ours, a missing one is a 400 naming netns', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmesh-wlns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f'), '');
  t.is(forbiddenMatch(readNetnsIdentity(join(dir, 'f')), nodeNamespaces(null)), null);
  const error = t.throws(() => readNetnsIdentity(join(dir, 'missing')), { instanceOf: NetworkdError });
  t.regex(error!.message, /^netns: .*missing does not exist/);
});

test('a /proc/PID path keeps the process start time: the same inode through a reused PID is not the same holder', (t) => {
  const now = readNetnsIdentity(`/proc/${process.pid}/ns/net`);
  t.not(now.processStart, null);
  t.true(sameHolder(now, readNetnsIdentity(`/proc/${process.pid}/ns/net`)));
  t.false(sameHolder({ ...now, processStart: '1' }, now), 'another process start: a reused PID');
  t.false(sameHolder({ ...now, ino: '1' }, now), 'another inode: another namespace');
  t.true(sameNamespace({ ...now, processStart: null }, now));
});
