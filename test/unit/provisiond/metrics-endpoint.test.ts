/**
 * A real provisiond process with `--metrics 127.0.0.1:0`: its /metrics counts the tasks it ran
 * and times their attempts, passes promtool, and its stderr is JSON lines naming the task.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import { ProvisiondClient } from '../../../src/provisiond/client.js';
import { systemTool } from '../../../src/sim/harness/system-tools.js';
import { waitFor } from '../../harness/index.js';
import { detach, tempDir } from './helpers.js';
import { startJournalNetworkd, startProvisiond } from './processes.js';

test("provisiond serves its queue's metrics, promtool-clean, and logs JSON lines with the task", async (t) => {
  const dir = tempDir(t);
  const networkdSocket = join(dir, 'networkd.sock');
  await startJournalNetworkd(t, networkdSocket, join(dir, 'journal'));
  const socket = join(dir, 'provisiond.sock');
  const p = await startProvisiond(t, {
    stateDir: join(dir, 'state'),
    networkdSocket,
    socket,
    extra: ['--metrics', '127.0.0.1:0'],
  });
  const port = Number(/metrics port (\d+)/.exec(p.stdout)?.[1]);
  t.true(port > 0, p.stdout);
  const client = new ProvisiondClient(socket);
  await client.submit(detach('m-1', 'blue', 'w-1'));
  await waitFor(async () => (await client.show('m-1')).state === 'succeeded', {
    what: 'task m-1 succeeded',
    timeoutMs: 10_000,
  });
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lint = spawnSync(systemTool('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.is(lint.status, 0, `${lint.stdout}${lint.stderr}`);
  t.true(text.includes('zmesh_tasks{state="succeeded"} 1'), text);
  t.regex(text, /zmesh_task_attempt_duration_seconds_count\{type="workload\.detach",outcome="succeeded"\} 1/);
  t.false(text.includes('zmesh_store_connected'), 'no store, no store series');
  t.is((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  const lines = p.stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.true(lines.length > 0);
  for (const line of lines) t.like(line, { component: 'provisiond' });
});
