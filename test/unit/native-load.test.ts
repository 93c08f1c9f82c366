import test from 'ava';
import { native } from '../../src/native/binding.js';

test('the native addon loads and creates a UDP socket in the current namespace', (t) => {
  const n = native();
  const fd = n.socketInNetns(null, n.constants.AF_INET, n.constants.SOCK_DGRAM, 0);
  t.true(fd > 2);
  n.closeFd(fd);
});

test('a namespace path that does not exist is an ENOENT error naming the path', (t) => {
  const n = native();
  const err = t.throws(() =>
    n.socketInNetns('/run/netns/zmesh-no-such-ns', n.constants.AF_INET, n.constants.SOCK_DGRAM, 0),
  );
  t.is((err as NodeJS.ErrnoException).code, 'ENOENT');
  t.regex(err!.message, /zmesh-no-such-ns/);
});
