import test from 'ava';
import { SharedTicker } from '../../../src/wg/shared-ticker.js';

/** Resolves once `check()` holds, asked after every task run (no sleeps: the runs are the events). */
function until(check: () => boolean): { poke: () => void; reached: Promise<void> } {
  let resolve!: () => void;
  const reached = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    poke: () => {
      if (check()) resolve();
    },
    reached,
  };
}

test('the tasks run one after another in each round, and a removed task stops', async (t) => {
  const ticker = new SharedTicker(10);
  const log: number[] = [];
  let waiter = until(() => log.length >= 9);
  const stops = [0, 1, 2].map((i) =>
    ticker.add(() => {
      log.push(i);
      waiter.poke();
    }),
  );
  await waiter.reached;
  t.deepEqual(log.slice(0, 9), [0, 1, 2, 0, 1, 2, 0, 1, 2], 'one round runs every task, in the order they were added');
  stops[1]!();
  stops[1]!(); // idempotent
  t.is(ticker.size, 2);
  const from = log.length;
  waiter = until(() => log.length >= from + 6);
  await waiter.reached;
  const later = log.slice(from);
  // The round that was running when task 1 stopped may end with task 2 alone.
  t.false(later.slice(1).includes(1), `after the stop: ${later.join(',')}`);
  stops[0]!();
  stops[2]!();
  t.is(ticker.size, 0);
});

test('a task that throws does not keep the others from running; its error surfaces as uncaught', async (t) => {
  const ticker = new SharedTicker(10);
  const uncaught: unknown[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', (error) => uncaught.push(error));
  let after = 0;
  const waiter = until(() => after >= 2);
  const stopBad = ticker.add(() => {
    throw new Error('task failed');
  });
  const stopGood = ticker.add(() => {
    after++;
    waiter.poke();
  });
  try {
    await waiter.reached;
  } finally {
    stopBad();
    stopGood();
    process.removeAllListeners('uncaughtException');
    for (const listener of listeners) process.on('uncaughtException', listener);
  }
  t.true(uncaught.length >= 1, 'the first round has thrown by the second');
  t.is((uncaught[0] as Error).message, 'task failed');
});

test('the same function added twice runs twice a round and stops one at a time', async (t) => {
  const ticker = new SharedTicker(10);
  let runs = 0;
  const waiter = until(() => runs >= 2);
  const task = (): void => {
    runs++;
    waiter.poke();
  };
  const stopA = ticker.add(task);
  const stopB = ticker.add(task);
  t.is(ticker.size, 2);
  stopA();
  t.is(ticker.size, 1);
  await waiter.reached;
  stopB();
  t.is(ticker.size, 0);
});
