// `zmesh demo` as a newcomer runs it: in a terminal, stopped with Ctrl-C. The terminal sends
// SIGINT to its whole foreground process group; the demo's daemons live in their own sessions,
// so only the demo gets it, and its teardown must end cleanly: exit 0, no error line, nothing
// left (namespaces, processes, run record). script(1) gives the demo a pseudo-terminal.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { BackgroundProcess, DEFAULT_RUN_DIR, namespacesWithPrefix, systemTool } from '../harness/index.js';
import { defaultZmeshInvocation, zmeshArgs } from '../../src/sim/zmesh-command.js';

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** The foreground process group of the terminal that `script` (pid) runs its command on. */
function foregroundGroup(scriptPid: number): number {
  const children = readFileSync(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8').trim().split(/\s+/);
  const child = Number(children[0]);
  if (!child) throw new Error(`script (pid ${scriptPid}) has no child`);
  const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
  // Fields after the command name: state ppid pgrp session tty_nr tpgid …
  const tpgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[5]);
  if (!(tpgid > 0)) throw new Error(`no foreground process group on ${child}'s terminal`);
  return tpgid;
}

/** PIDs whose command line mentions `text` (the run prefix is in every daemon's arguments). */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('the demo in a terminal, Ctrl-C (SIGINT to its foreground group): exit 0, no error, nothing left', async (t) => {
  t.timeout(300_000);
  const inv = defaultZmeshInvocation();
  // `exec`: the demo itself runs on the terminal, as a shell's foreground job would (script's
  // `sh -c` would otherwise stay in the group and die of the SIGINT).
  const command = `exec ${[inv.file, ...zmeshArgs(inv, ['demo', '--interval', '1'])].map(shellQuote).join(' ')}`;
  // -e: the command's exit status; -f: output at once; -q: no banner.
  const terminal = new BackgroundProcess(systemTool('script'), ['-qfec', command, '/dev/null'], {
    env: { SHELL: '/bin/sh', TERM: 'dumb' },
  });
  t.teardown(async () => {
    if (!terminal.running) return;
    // A failed test: the demo's own exit hooks remove its world on SIGTERM.
    try {
      process.kill(-foregroundGroup(terminal.pid), 'SIGTERM');
    } catch {
      // gone meanwhile
    }
    await terminal.stop({ graceMs: 30_000 });
  });

  const header = await terminal.waitForOutput(/zmesh demo, world (\w+) \(refresh every/, { timeoutMs: 240_000 });
  const prefix = header[1] as string;
  t.true(namespacesWithPrefix(prefix).length > 0, 'the world is up');
  // The picture of the network (zmesh net graph) is drawn at start and refreshed.
  const graphFile = /graph: (\/\S+\.svg) \(refreshed/.exec(terminal.stdout)?.[1];
  t.truthy(graphFile, terminal.stdout.slice(-2000));
  const svg = readFileSync(graphFile!, 'utf8');
  t.true(
    svg.startsWith('<?xml') && ['alpha', 'bravo', 'hid1', 'hid2'].every((n) => svg.includes(`<title>${n}</title>`)),
    svg.slice(0, 300),
  );
  rmSync(graphFile!, { force: true });
  const group = foregroundGroup(terminal.pid);
  process.kill(-group, 'SIGINT');

  const status = await Promise.race([terminal.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
  const output = terminal.stdout + terminal.stderr;
  t.log(
    output
      .split(/\r?\n/)
      .filter((l) => l.startsWith('zmesh'))
      .join('\n'),
  );
  t.deepEqual(status, { exitCode: 0, signal: null }, output.slice(-3000));
  t.regex(output, /zmesh demo: SIGINT: tearing down/);
  t.regex(output, /zmesh demo: torn down/);
  t.notRegex(output, /^zmesh: /m, 'no error line');
  t.notRegex(output, /TEARDOWN_FAILED|EPIPE|ENOENT|unreachable/);
  // The demo exits only after its teardown: by now everything must be gone.
  t.deepEqual(namespacesWithPrefix(prefix), [], 'no namespace of the run is left');
  t.deepEqual(processesMentioning(prefix), [], 'no process of the run is left');
  t.false(existsSync(join(DEFAULT_RUN_DIR, `${prefix}.pid`)), 'the run record is released');
});
