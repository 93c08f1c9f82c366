/** The daemons' logs: JSON lines with time, level, component, node, network and task; a pretty form; levels. */
import test from 'ava';
import { createLog, subjectOf } from '../../../src/common/log.js';

function capture(format: 'json' | 'pretty', level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const log = createLog({ component: 'networkd', node: 'alpha', format, level, write: (line) => lines.push(line) });
  return { log, lines };
}

test("a JSON line carries time, level, component, node and the sentence's network and task", (t) => {
  const { log, lines } = capture('json');
  log('network "blue": revision 4 queued (task t-17)');
  log('reconcile: network red: EKERNEL: failed to add link');
  t.is(lines.length, 2);
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.regex(String(first['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.like(first, {
    level: 'info',
    component: 'networkd',
    node: 'alpha',
    network: 'blue',
    task: 't-17',
    msg: 'network "blue": revision 4 queued (task t-17)',
  });
  t.like(JSON.parse(lines[1]!) as object, { level: 'error', network: 'red' });
  t.true(
    lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1),
    'one line each',
  );
});

test('pretty lines for a terminal; a level below the threshold is not written', (t) => {
  const { log, lines } = capture('pretty', 'warn');
  log('serving /run/x.sock');
  log('network blue: cannot resolve the endpoint', 'warn');
  t.is(lines.length, 1);
  t.regex(
    lines[0]!,
    /^\d\d:\d\d:\d\d\.\d{3} WARN {2}networkd \[network=blue\]: network blue: cannot resolve the endpoint\n$/,
  );
});

test('subjects are read only from where sentences name them', (t) => {
  t.deepEqual(subjectOf('node alpha: serving'), {});
  t.deepEqual(subjectOf('task abc (network.apply) attempt 2: EUNAVAILABLE; retry in 400 ms'), { task: 'abc' });
  t.deepEqual(subjectOf('a network "x" mentioned later'), {});
});
