/**
 * What a zmesh command is, for the dispatch table in main.ts: a summary, its arguments (for the
 * generic parser and --help) and `run`. Also the CLI's error type: every problem names the field
 * (option, argument or JSON path) and the reason, and carries the exit status.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder shown in help, e.g. CIDR. */
  value?: string;
  multiple?: boolean;
  required?: boolean;
  description: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
}

export interface ParsedArgs {
  positionals: Record<string, string>;
  strings: Record<string, string | undefined>;
  lists: Record<string, string[]>;
  flags: Record<string, boolean>;
}

/** Where a command writes and reads: the process streams, or a test's buffers. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  /**
   * The environment the tool reads ($ZMESH_ADMIN_KEY, $ZMESH_STORE); process.env when absent.
   * In-process callers (tests running several tools at once) give each its own.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The environment variable `name` as this invocation sees it. */
export function envOf(io: CliIo, name: string): string | undefined {
  return (io.env ?? process.env)[name];
}

export interface Invocation {
  /** The command's full name, e.g. `net add-node` (used in error messages). */
  command: string;
  args: ParsedArgs;
  /** The raw arguments after the command name, for commands that parse their own. */
  argv: readonly string[];
  io: CliIo;
}

export interface Command {
  summary: string;
  positionals?: readonly PositionalSpec[];
  options?: Readonly<Record<string, OptionSpec>>;
  /** Replaces the generated usage line (after `zmesh <command> `). */
  usage?: string;
  /** Extra paragraphs for --help. */
  notes?: string;
  run(invocation: Invocation): Promise<void>;
}

export interface CommandGroup {
  summary: string;
  commands: Readonly<Record<string, Command>>;
}

/** A table entry of main.ts: a command (`zmesh wgd`) or a group of them (`zmesh net add-node`). */
export type CommandEntry = Command | CommandGroup;

export function isGroup(entry: CommandEntry): entry is CommandGroup {
  return 'commands' in entry;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_INVALID = 2;

export interface Problem {
  /** The option (`--subnet`), argument (`FILE`) or JSON location (`net.json#/resources/2`). */
  field: string;
  reason: string;
}

/** A command failure: printed as `zmesh: <command>: <field>: <reason>` per problem. */
export class CliError extends Error {
  readonly code = 'ECLI';
  readonly problems: readonly Problem[];
  readonly exitCode: number;

  constructor(problems: readonly Problem[], exitCode = EXIT_INVALID) {
    super(problems.map((p) => `${p.field}: ${p.reason}`).join('; '));
    this.name = 'CliError';
    this.problems = problems;
    this.exitCode = exitCode;
  }

  static invalid(field: string, reason: string): CliError {
    return new CliError([{ field, reason }], EXIT_INVALID);
  }

  static failed(field: string, reason: string): CliError {
    return new CliError([{ field, reason }], EXIT_FAILURE);
  }
}
