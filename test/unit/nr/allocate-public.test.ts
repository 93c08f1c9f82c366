import test from 'ava';
import { NrError } from '../../../src/nr/errors.js';
import { allocatePublicAddress, parsePublicAddress } from '../../../src/nr/allocate-public.js';

test('the first NR gets 100.127.0.2: .0.0 is the network and .0.1 the ndmz gateway', (t) => {
  t.is<string, string>(allocatePublicAddress([]), '100.127.0.2');
});

test('allocation takes the lowest free address, skips used ones, reuses a freed one and ignores foreign entries', (t) => {
  t.is<string, string>(allocatePublicAddress(['100.127.0.2', '100.127.0.3']), '100.127.0.4');
  t.is<string, string>(allocatePublicAddress(['100.127.0.2', '100.127.0.4']), '100.127.0.3');
  t.is<string, string>(allocatePublicAddress(['10.0.0.2', 'garbage', '100.126.0.2']), '100.127.0.2');
  const many = Array.from({ length: 300 }, (_, i) => `100.127.${(i + 2) >> 8}.${(i + 2) & 255}`);
  t.is<string, string>(allocatePublicAddress(many), '100.127.1.46');
});

test('allocation is stable: the same used set always gives the same address', (t) => {
  const used = ['100.127.0.5', '100.127.0.2', '100.127.0.3'];
  t.is<string, string>(allocatePublicAddress(used), allocatePublicAddress([...used].reverse()));
});

test('a full /16 is an EALLOC error, never 100.127.255.255', (t) => {
  const all: string[] = [];
  for (let host = 2; host <= 0xfffe; host++) all.push(`100.127.${host >> 8}.${host & 255}`);
  const error = t.throws(() => allocatePublicAddress(all), { instanceOf: NrError });
  t.is(error?.code, 'EALLOC');
  all.pop();
  t.is<string, string>(allocatePublicAddress(all), '100.127.255.254');
});

test('a given address is checked: in 100.127.0.0/16, not the network, gateway or broadcast, well-formed', (t) => {
  t.is<string, string>(parsePublicAddress('100.127.3.4'), '100.127.3.4');
  for (const bad of ['100.127.0.0', '100.127.0.1', '100.127.255.255', '100.126.0.2', '100.127.0.02', 'x', 7]) {
    const error = t.throws(() => parsePublicAddress(bad), { instanceOf: NrError });
    t.is(error?.context.field, 'publicAddress');
    t.regex(error!.message, /^publicAddress: /);
  }
});
