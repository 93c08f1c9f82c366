/**
 * `zmesh task submit FILE|- | list [--network N] [--state S] | show ID | cancel ID`: the
 * operator's verbs for provisiond's queue, over its local API (--socket, default
 * /run/zmesh/provisiond.sock). A file holds one task or an array of tasks; a bad one is refused
 * whole, naming the JSON path, and nothing is queued.
 */
import { readFile } from 'node:fs/promises';
import { JsonTextError, parseStrictJson } from '../common/json-text.js';
import { DEFAULT_SOCKET, ProvisiondClient } from '../provisiond/client.js';
import { ProvisiondError } from '../provisiond/errors.js';
import { TASK_STATES } from '../provisiond/task-store.js';
import type { TaskSummaryView } from '../provisiond/views.js';
import {
  CliError,
  type Command,
  type CommandGroup,
  EXIT_FAILURE,
  EXIT_INVALID,
  type Invocation,
  type OptionSpec,
} from './command.js';
import { formatTable } from './table.js';

const socketOption: OptionSpec = {
  type: 'string',
  value: 'A',
  description: `provisiond's API socket (default ${DEFAULT_SOCKET})`,
};

function clientOf(args: Invocation['args']): ProvisiondClient {
  const socket = args.strings['socket'] ?? DEFAULT_SOCKET;
  if (!socket.startsWith('/')) throw CliError.invalid('--socket', 'must be an absolute path');
  return new ProvisiondClient(socket);
}

/** The daemon's error as CLI problems: each issue on its own line, named by where it is. */
function asCliError(error: unknown, where: string): never {
  if (!(error instanceof ProvisiondError)) throw error;
  if (error.code === 'EUNAVAILABLE') throw CliError.failed(error.context.field ?? '--socket', error.message);
  const issues = error.context.issues ?? [];
  const problems =
    issues.length > 0
      ? issues.map((i) => ({ field: `${where}#${i.path || '/'}`, reason: i.message }))
      : [
          {
            field: error.context.field ? `${where}#${error.context.field}` : where,
            reason: error.message.replace(/^\/[^:]*: /, ''),
          },
        ];
  throw new CliError(
    problems,
    error.code === 'EINVAL' || error.code === 'ECONFLICT' || error.code === 'ENOENT' || error.code === 'ESTATE'
      ? EXIT_INVALID
      : EXIT_FAILURE,
  );
}

function when(iso: string | null): string {
  return iso === null ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function rowOf(task: TaskSummaryView): string[] {
  const error = task.error as { message?: string } | null;
  return [
    task.id,
    task.type,
    task.network,
    task.state,
    String(task.attempts),
    when(task.createdAt),
    task.durationMs === null ? '-' : `${task.durationMs} ms`,
    error?.message ?? '',
  ];
}

const submit: Command = {
  summary: 'queue the task(s) in FILE (- for stdin): one task or an array of tasks',
  positionals: [{ name: 'FILE', description: 'a JSON task or array of tasks; - reads stdin' }],
  options: { socket: socketOption },
  async run({ args, io }) {
    const file = args.positionals['FILE'] as string;
    let text: string;
    try {
      text = file === '-' ? await io.readStdin() : await readFile(file, 'utf8');
    } catch (error) {
      throw CliError.invalid('FILE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    const where = file === '-' ? 'stdin' : file;
    if (text.trim() === '') throw CliError.invalid(where, 'is empty (expected a JSON task or array of tasks)');
    let body: unknown;
    try {
      body = parseStrictJson(text);
    } catch (error) {
      if (error instanceof JsonTextError) throw CliError.invalid(`${where}#${error.path || '/'}`, error.reason);
      throw CliError.invalid(where, `not valid JSON: ${(error as Error).message}`);
    }
    let tasks;
    try {
      tasks = await clientOf(args).submit(body);
    } catch (error) {
      asCliError(error, where);
    }
    for (const task of tasks) io.stdout(`${task.id}: ${task.created ? 'queued' : `already known (${task.state})`}\n`);
  },
};

const list: Command = {
  summary: 'list tasks, oldest first',
  options: {
    network: { type: 'string', value: 'N', description: 'only tasks of network N' },
    state: { type: 'string', value: 'S', description: `only tasks in state S (${TASK_STATES.join(', ')})` },
    json: { type: 'boolean', description: 'print JSON instead of a table' },
    socket: socketOption,
  },
  async run({ args, io }) {
    const state = args.strings['state'];
    if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state))
      throw CliError.invalid('--state', `must be one of ${TASK_STATES.join(', ')}`);
    let tasks;
    try {
      tasks = await clientOf(args).list({ network: args.strings['network'], state, limit: 100_000 });
    } catch (error) {
      asCliError(error, 'list');
    }
    if (args.flags['json']) io.stdout(`${JSON.stringify(tasks, null, 2)}\n`);
    else
      io.stdout(
        formatTable(['ID', 'TYPE', 'NETWORK', 'STATE', 'ATTEMPTS', 'CREATED', 'TOOK', 'ERROR'], tasks.map(rowOf)),
      );
  },
};

const show: Command = {
  summary: 'one task as JSON: state, timings, result or error, the task as submitted, every attempt',
  positionals: [{ name: 'ID', description: 'the task id' }],
  options: { socket: socketOption },
  async run({ args, io }) {
    try {
      io.stdout(`${JSON.stringify(await clientOf(args).show(args.positionals['ID'] as string), null, 2)}\n`);
    } catch (error) {
      asCliError(error, 'ID');
    }
  },
};

const cancel: Command = {
  summary: 'cancel a pending task (a running or finished one cannot be)',
  positionals: [{ name: 'ID', description: 'the task id' }],
  options: { socket: socketOption },
  async run({ args, io }) {
    try {
      const task = await clientOf(args).cancel(args.positionals['ID'] as string);
      io.stdout(`${task.id}: ${task.state}\n`);
    } catch (error) {
      asCliError(error, 'ID');
    }
  },
};

export const taskGroup: CommandGroup = {
  summary: "provisiond's task queue: submit, list, show, cancel",
  commands: { submit, list, show, cancel },
};
