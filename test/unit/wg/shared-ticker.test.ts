import test from 'ava';
import { SharedTicker } from '../../../src/wg/shared-ticker.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('every task runs once a period on one timer, and a removed task stops', async (t) => {
  const ticker = new SharedTicker(20);
  const runs = [0, 0, 0];
  const stops = runs.map((_, i) =>
    ticker.add(() => {
      runs[i]!++;
    }),
  );
  await sleep(110);
  t.true(
    runs.every((n) => n >= 3 && n <= 6),
    `runs ${runs.join(', ')}`,
  );
  t.true(
    runs.every((n) => Math.abs(n - runs[0]!) <= 1),
    'the tasks run together',
  );
  stops[1]!();
  stops[1]!(); // idempotent
  const stopped = runs[1];
  await sleep(60);
  t.is(runs[1], stopped);
  t.true(runs[0]! > stopped!);
  stops[0]!();
  stops[2]!();
  t.is(ticker.size, 0);
});

test('a task that throws does not keep the others from running; its error surfaces as uncaught', async (t) => {
  const ticker = new SharedTicker(20);
  const uncaught: unknown[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', (error) => uncaught.push(error));
  let after = 0;
  const stopBad = ticker.add(() => {
    throw new Error('task failed');
  });
  const stopGood = ticker.add(() => {
    after++;
  });
  try {
    await sleep(70);
  } finally {
    stopBad();
    stopGood();
    process.removeAllListeners('uncaughtException');
    for (const listener of listeners) process.on('uncaughtException', listener);
  }
  t.true(after >= 2);
  t.true(uncaught.length >= 2);
  t.is((uncaught[0] as Error).message, 'task failed');
});

test('the same function added twice runs twice and stops one at a time', async (t) => {
  const ticker = new SharedTicker(20);
  let runs = 0;
  const task = (): void => {
    runs++;
  };
  const stopA = ticker.add(task);
  const stopB = ticker.add(task);
  t.is(ticker.size, 2);
  stopA();
  t.is(ticker.size, 1);
  await sleep(50);
  t.true(runs >= 1);
  stopB();
  t.is(ticker.size, 0);
});
