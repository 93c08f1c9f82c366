import test from 'ava';
import { censusChanges, processesGained, runProcesses } from '../../../src/sim/leak-census.js';

test('censusChanges names each field that differs, with both values', (t) => {
  const start = { 'host links': 3, 'nr links': 4, 'nr nft tables': 'table inet zmesh', 'UAPI sockets': 1 };
  t.deepEqual(censusChanges(start, { ...start }), []);
  t.deepEqual(censusChanges(start, { ...start, 'nr links': 5, 'UAPI sockets': 2 }), [
    'nr links 4→5',
    'UAPI sockets 1→2',
  ]);
  t.deepEqual(censusChanges(start, { ...start, 'nr nft tables': 'table inet zmesh, table ip stray' }), [
    'nr nft tables table inet zmesh→table inet zmesh, table ip stray',
  ]);
});

test('processesGained reports only names with more processes at the end', (t) => {
  const start = new Map([
    ['node', 19],
    ['esbuild', 12],
  ]);
  const end = new Map([
    ['node', 20],
    ['esbuild', 5],
    ['ping', 1],
  ]);
  t.deepEqual(processesGained(start, end), ['node 19→20', 'ping 0→1']);
});

test('runProcesses counts a child of this process by its command name', async (t) => {
  const { spawn } = await import('node:child_process');
  const name = 'node';
  const before = runProcesses([]).get(name) ?? 0;
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)']);
  try {
    await new Promise((r) => setTimeout(r, 300));
    t.is(runProcesses([]).get(name) ?? 0, before + 1);
  } finally {
    child.kill('SIGKILL');
  }
});
