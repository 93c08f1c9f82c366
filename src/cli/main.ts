/**
 * The `zmesh` entry point: finds the command in the dispatch table, parses its arguments, runs
 * it and turns errors into `zmesh: <command>: <field>: <reason>` lines and an exit status.
 * Other command groups (wgd, networkd, provisiond, task, demo) are one table entry each.
 */

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NetdefError } from '../netdef/index.js';
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
import { cniGroup } from './cni.js';
import { demoCommand } from './demo.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { adminGroup } from './admin.js';
import { netGroup } from './net.js';
import { networkdCommand } from './networkd.js';
import { nodeGroup } from './node.js';
import { peerGroup } from './peer.js';
import { provisiondCommand } from './provisiond.js';
import { statusCommand } from './status.js';
import { storeGroup } from './store.js';
import { taskGroup } from './task.js';
import { wgdCommand } from './wgd.js';

/** The dispatch table: `zmesh <name> ...`. */
export const commandTable: Readonly<Record<string, CommandEntry>> = {
  admin: adminGroup,
  node: nodeGroup,
  net: netGroup,
  peer: peerGroup,
  demo: demoCommand,
  wgd: wgdCommand,
  provisiond: provisiondCommand,
  task: taskGroup,
  store: storeGroup,
  networkd: networkdCommand,
  cni: cniGroup,
  status: statusCommand,
};

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
export async function main(argv: readonly string[], io: CliIo = processIo, table = commandTable): Promise<number> {
  let name = '';
  try {
    const resolved = resolve(argv, table);
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
