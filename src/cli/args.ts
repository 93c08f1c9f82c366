/**
 * The generic argument parser of zmesh commands (node:util parseArgs underneath). Strict in the
 * way an operator needs: unknown options, missing values, repeated single options and missing
 * required arguments are usage errors naming the option.
 */

import { parseArgs } from 'node:util';
import { CliError, type Command, type ParsedArgs } from './command.js';

export const HELP = Symbol('help');

/** Parses argv for `command`; returns HELP when --help/-h is present. */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs | typeof HELP {
  const specs = command.options ?? {};
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = { type: spec.type };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const args: ParsedArgs = { positionals: {}, strings: {}, lists: {}, flags: {} };
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    if (token.name === 'help' || token.name === 'h') return HELP;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (!spec) throw CliError.invalid(token.rawName, 'unknown option (see --help)');
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw CliError.invalid(token.rawName, 'takes no value');
      args.flags[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('-') && value !== '-')) {
      throw CliError.invalid(token.rawName, `needs a value${spec.value ? ` (${spec.value})` : ''}`);
    }
    if (spec.multiple) {
      (args.lists[token.name] ??= []).push(value);
    } else {
      if (args.strings[token.name] !== undefined) throw CliError.invalid(token.rawName, 'given more than once');
      args.strings[token.name] = value;
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && args.strings[name] === undefined && args.lists[name] === undefined) {
      throw CliError.invalid(`--${name}`, 'required');
    }
  }
  const expected = command.positionals ?? [];
  expected.forEach((spec, index) => {
    const value = positionals[index];
    if (value === undefined) throw CliError.invalid(spec.name, 'required');
    args.positionals[spec.name] = value;
  });
  const extra = positionals[expected.length];
  if (extra !== undefined) throw CliError.invalid(extra, 'unexpected argument');
  return args;
}
