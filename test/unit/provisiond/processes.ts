/**
 * Test helpers that run the real programs as child processes: `zmesh provisiond` (from src via
 * tsx, like the simulated world runs zmesh), `zmesh task ...`, and the journal networkd stand-in.
 * Every child is tracked by PID and stopped in teardown.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { BackgroundProcess, runCommand } from '../../harness/index.js';
import { defaultZmeshInvocation, zmeshArgs } from '../../../src/sim/zmesh-command.js';

const tsx = import.meta.resolve('tsx');
const journalScript = fileURLToPath(new URL('./fixtures/journal-networkd.ts', import.meta.url));

export function track(t: ExecutionContext, p: BackgroundProcess): BackgroundProcess {
  t.teardown(async () => {
    await p.stop({ graceMs: 3000 });
  });
  return p;
}

export async function startJournalNetworkd(
  t: ExecutionContext,
  socket: string,
  journal: string,
  maxDelayMs = 0,
): Promise<BackgroundProcess> {
  rmSync(socket, { force: true });
  const p = track(
    t,
    new BackgroundProcess(process.execPath, ['--import', tsx, journalScript, socket, journal, String(maxDelayMs)]),
  );
  await p.waitForOutput('ready', { timeoutMs: 20_000 });
  return p;
}

export interface ProvisiondArgs {
  stateDir: string;
  networkdSocket: string;
  socket: string;
  spool?: string;
  extra?: string[];
}

export async function startProvisiond(t: ExecutionContext, a: ProvisiondArgs): Promise<BackgroundProcess> {
  const inv = defaultZmeshInvocation();
  const args = [
    'provisiond',
    '--state-dir',
    a.stateDir,
    '--networkd-socket',
    a.networkdSocket,
    '--socket',
    a.socket,
    ...(a.spool ? ['--spool', a.spool] : []),
    ...(a.extra ?? []),
  ];
  const p = track(t, new BackgroundProcess(inv.file, zmeshArgs(inv, args)));
  await p.waitForOutput('ready', { timeoutMs: 20_000 });
  return p;
}

/** SIGKILL and wait for the exit. */
export async function kill9(p: BackgroundProcess): Promise<void> {
  if (!p.running) return;
  process.kill(p.pid, 'SIGKILL');
  await p.exited;
}

export async function zmesh(
  args: string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const inv = defaultZmeshInvocation();
  const r = await runCommand(inv.file, zmeshArgs(inv, args), {
    check: false,
    timeoutMs: 30_000,
    ...(input === undefined ? {} : { input }),
  });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

export interface JournalEntry {
  taskId: string;
  method: string;
  path: string;
}

export function readJournal(file: string): JournalEntry[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as JournalEntry);
}
