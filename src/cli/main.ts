/**
 * The `zmesh` entry point: finds the command in the dispatch table, parses its arguments, runs
 * it and turns errors into `zmesh: <command>: <field>: <reason>` lines and an exit status.
 * Other command groups (wgd, networkd, provisiond, task, demo) are one table entry each.
 */

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NetdefError } from '../netdef/errors.js';
import { HELP, parseCommandArgs } from './args.js';
import {
  CliError,
  type CliIo,
  type Command,
  type CommandEntry,
  EXIT_FAILURE,
  EXIT_INVALID,
  EXIT_OK,
  isGroup,
} from './command.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';

/**
 * The dispatch table: `zmesh <name> ...`. Each entry's module is loaded only when it runs (all of
 * them for the overall help), so a daemon carries its own dependencies and no other command's:
 * wgd, with every command loaded, held ~38 MB more RSS before its first device (etcd and gRPC,
 * SQLite, HTTP, metrics).
 */
const commandLoaders: Readonly<Record<string, () => Promise<CommandEntry>>> = {
  admin: async () => (await import('./admin.js')).adminGroup,
  node: async () => (await import('./node.js')).nodeGroup,
  net: async () => (await import('./net.js')).netGroup,
  peer: async () => (await import('./peer.js')).peerGroup,
  demo: async () => (await import('./demo.js')).demoCommand,
  wgd: async () => (await import('./wgd.js')).wgdCommand,
  provisiond: async () => (await import('./provisiond.js')).provisiondCommand,
  task: async () => (await import('./task.js')).taskGroup,
  store: async () => (await import('./store.js')).storeGroup,
  networkd: async () => (await import('./networkd.js')).networkdCommand,
  cni: async () => (await import('./cni.js')).cniGroup,
  status: async () => (await import('./status.js')).statusCommand,
};

/** The entries `argv` needs: its command's alone, or every one (help, an unknown command). */
async function tableFor(argv: readonly string[]): Promise<Record<string, CommandEntry>> {
  const first = argv[0];
  if (first !== undefined && Object.hasOwn(commandLoaders, first)) return { [first]: await commandLoaders[first]!() };
  const names = Object.keys(commandLoaders);
  const entries = await Promise.all(names.map((name) => commandLoaders[name]!()));
  return Object.fromEntries(names.map((name, index) => [name, entries[index]!]));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  readStdin: () => readAll(process.stdin),
};

type Resolved = { name: string; command: Command; rest: string[] } | { help: string; status: number };

function resolve(argv: readonly string[], table: Readonly<Record<string, CommandEntry>>): Resolved {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { help: mainHelp(table), status: first === undefined ? EXIT_INVALID : EXIT_OK };
  }
  const entry = Object.hasOwn(table, first) ? table[first] : undefined;
  if (!entry) throw CliError.invalid(first, 'unknown command (see zmesh --help)');
  if (!isGroup(entry)) return { name: first, command: entry, rest: argv.slice(1) };
  if (second === undefined || second === '--help' || second === '-h') {
    return { help: groupHelp(first, entry), status: second === undefined ? EXIT_INVALID : EXIT_OK };
  }
  const command = Object.hasOwn(entry.commands, second) ? entry.commands[second] : undefined;
  if (!command) throw CliError.invalid(`${first} ${second}`, `unknown command (see zmesh ${first} --help)`);
  return { name: `${first} ${second}`, command, rest };
}

function report(io: CliIo, command: string, error: unknown): number {
  const prefix = command ? `zmesh: ${command}: ` : 'zmesh: ';
  if (error instanceof CliError) {
    for (const problem of error.problems) io.stderr(`${prefix}${problem.field}: ${problem.reason}\n`);
    return error.exitCode;
  }
  if (error instanceof NetdefError) {
    io.stderr(`${prefix}${error.path || '/'}: ${error.message}\n`);
    return EXIT_INVALID;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  // Node's system errors already start with their code ("EACCES: permission denied, …").
  io.stderr(`${prefix}${code && !message.startsWith(`${code}:`) ? `${code}: ` : ''}${message}\n`);
  return EXIT_FAILURE;
}

/** Runs `zmesh argv...`; resolves to the exit status. */
export async function main(
  argv: readonly string[],
  io: CliIo = processIo,
  table?: Readonly<Record<string, CommandEntry>>,
): Promise<number> {
  let name = '';
  try {
    const resolved = resolve(argv, table ?? (await tableFor(argv)));
    if ('help' in resolved) {
      (resolved.status === EXIT_OK ? io.stdout : io.stderr)(resolved.help);
      return resolved.status;
    }
    name = resolved.name;
    const args = parseCommandArgs(resolved.command, resolved.rest);
    if (args === HELP) {
      io.stdout(commandHelp(name, resolved.command));
      return EXIT_OK;
    }
    await resolved.command.run({ command: name, args, argv: resolved.rest, io });
    return EXIT_OK;
  } catch (error) {
    return report(io, name, error);
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main(process.argv.slice(2));
