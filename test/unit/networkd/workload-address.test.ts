import test from 'ava';
import { allocateWorkloadAddress } from '../../../src/networkd/workload-address.js';
import { errorOf } from './error-of.js';

const SUBNET = '10.1.2.0/24';

test('without an asked ip the first workload gets .2 (never .0 or the .1 gateway)', (t) => {
  t.is(allocateWorkloadAddress(SUBNET, new Set()), '10.1.2.2');
});

test('the lowest free address is chosen, filling holes left by detached workloads', (t) => {
  t.is(allocateWorkloadAddress(SUBNET, new Set(['10.1.2.2', '10.1.2.4'])), '10.1.2.3');
});

test('a full subnet never hands out .255 and answers 409 naming ip', (t) => {
  const taken = new Set<string>();
  for (let host = 2; host <= 254; host++) taken.add(`10.1.2.${host}`);
  const error = errorOf(() => allocateWorkloadAddress(SUBNET, taken));
  t.is(error.status, 409);
  t.is(error.context.field, 'ip');
  t.regex(error.message, /no free address/);
});

test('an asked free address inside the subnet is granted as asked', (t) => {
  t.is(allocateWorkloadAddress(SUBNET, new Set(['10.1.2.2']), '10.1.2.77'), '10.1.2.77');
});

for (const [asked, why] of [
  ['10.1.2.0', /network address/],
  ['10.1.2.1', /gateway/],
  ['10.1.2.255', /broadcast/],
  ['10.1.3.5', /outside the NR's subnet 10\.1\.2\.0\/24/],
  ['10.1.2.5/24', /not an IPv4 address/],
  ['010.1.2.5', /not an IPv4 address/],
] as const) {
  test(`asking for ${asked} is a 400 naming ip: ${why.source}`, (t) => {
    const error = errorOf(() => allocateWorkloadAddress(SUBNET, new Set(), asked));
    t.is(error.status, 400);
    t.is(error.context.field, 'ip');
    t.regex(error.message, /^ip: /);
    t.regex(error.message, why);
  });
}

test('asking for an address another workload holds is a 409 naming ip', (t) => {
  const error = errorOf(() => allocateWorkloadAddress(SUBNET, new Set(['10.1.2.9']), '10.1.2.9'));
  t.is(error.status, 409);
  t.is(error.context.field, 'ip');
  t.regex(error.message, /already taken/);
});
