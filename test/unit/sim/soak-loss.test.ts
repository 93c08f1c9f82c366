import test from 'ava';
import { flowReport } from '../../../src/sim/continuous-ping.js';
import { OUTSIDE, attributeLoss } from '../../../src/sim/loss-windows.js';

const answer = (at: number, seq: number): string =>
  `[${(at / 1000).toFixed(6)}] 64 bytes from 10.0.0.1: icmp_seq=${seq} ttl=64 time=0.1 ms`;

test('flowReport places each lost request between the stamped answers around it', (t) => {
  const out = [
    'PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.',
    answer(1_000_000, 1),
    answer(1_000_200, 2),
    'From 10.0.0.9 icmp_seq=3 Destination Host Unreachable',
    answer(1_001_000, 6),
  ].join('\n');
  const r = flowReport(out, 200);
  t.deepEqual(r.lost, [3, 4, 5], 'an ICMP error is no answer');
  t.deepEqual(r.lostAt, [1_000_400, 1_000_600, 1_000_800]);
  t.is(r.sent, 6);
  t.is(r.answered, 3);
});

test('flowReport bounds an estimate by the next answer when sends fell behind the interval', (t) => {
  const r = flowReport([answer(5_000, 1), answer(5_100, 4)].join('\n'), 200);
  t.deepEqual(r.lost, [2, 3]);
  t.deepEqual(r.lostAt, [5_100, 5_100]);
});

test('attributeLoss: a loss in a wgd kill window is excused, one elsewhere is named, one in none is outside', (t) => {
  const windows = [
    { op: 'SIGKILL wgd', from: 10_000, to: 14_000, ok: true },
    { op: 'new revision', from: 13_000, to: 20_000, ok: true },
  ];
  const lost = [9_500, 13_500, 16_000, 30_000].map((at) => ({ flow: 'a→b', at }));
  const { byOp, byWindow, outside } = attributeLoss(lost, windows, (op) => op === 'SIGKILL wgd', 1_000);
  t.deepEqual(Object.fromEntries(byOp), { 'SIGKILL wgd': 2, 'new revision': 1, [OUTSIDE]: 1 });
  t.deepEqual(Object.fromEntries(byWindow.get(windows[0]!) ?? []), { 'a→b': 2 });
  t.deepEqual(Object.fromEntries(outside), { 'a→b': 1 });
});

test('attributeLoss keeps each window its lost pings per flow', (t) => {
  const windows = [
    { op: 'key rotation', from: 10_000, to: 12_000, ok: true },
    { op: 'key rotation', from: 20_000, to: 22_000, ok: true },
  ];
  const lost = [
    { flow: 'a→b', at: 10_500 },
    { flow: 'a→b', at: 10_700 },
    { flow: 'b→c', at: 11_000 },
    { flow: 'b→c', at: 21_000 },
  ];
  const { byOp, byWindow } = attributeLoss(lost, windows, () => true, 1_000);
  t.is(byOp.get('key rotation'), 4);
  t.deepEqual(Object.fromEntries(byWindow.get(windows[0]!) ?? []), { 'a→b': 2, 'b→c': 1 });
  t.deepEqual(Object.fromEntries(byWindow.get(windows[1]!) ?? []), { 'b→c': 1 });
});
