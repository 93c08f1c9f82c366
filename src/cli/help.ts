/** --help texts, generated from the command table so that they cannot drift from the parser. */

import { type Command, type CommandEntry, isGroup } from './command.js';

export function usageOf(name: string, command: Command): string {
  if (command.usage) return `zmesh ${name.split(' ').slice(0, -1).concat(command.usage).join(' ')}`;
  const parts = [`zmesh ${name}`, ...(command.positionals ?? []).map((p) => p.name)];
  for (const [option, spec] of Object.entries(command.options ?? {})) {
    const text = spec.type === 'boolean' ? `--${option}` : `--${option} ${spec.value ?? 'VALUE'}`;
    parts.push(spec.required ? text : `[${text}]${spec.multiple ? '...' : ''}`);
  }
  return parts.join(' ');
}

export function commandHelp(name: string, command: Command): string {
  const lines = [`usage: ${usageOf(name, command)}`, '', command.summary];
  const positionals = command.positionals ?? [];
  const options = Object.entries(command.options ?? {});
  if (positionals.length + options.length > 0) lines.push('');
  for (const p of positionals) lines.push(`  ${p.name.padEnd(24)}${p.description}`);
  for (const [option, spec] of options) {
    const left = spec.type === 'boolean' ? `--${option}` : `--${option} ${spec.value ?? 'VALUE'}`;
    lines.push(`  ${left.padEnd(24)}${spec.description}${spec.required ? ' (required)' : ''}`);
  }
  if (command.notes) lines.push('', command.notes);
  return `${lines.join('\n')}\n`;
}

function commandLines(prefix: string, entry: CommandEntry): string[] {
  if (!isGroup(entry)) return [`  ${prefix.padEnd(22)}${entry.summary}`];
  return Object.entries(entry.commands).map(
    ([name, command]) => `  ${`${prefix} ${name}`.padEnd(22)}${command.summary}`,
  );
}

export function groupHelp(name: string, entry: CommandEntry): string {
  return `usage: zmesh ${name} <command> [options]\n\n${isGroup(entry) ? entry.summary : ''}\n\n${commandLines(name, entry).join('\n')}\n`;
}

export function mainHelp(table: Readonly<Record<string, CommandEntry>>): string {
  const lines = [
    'zmesh: WireGuard mesh networks and network resources for Linux fleets',
    '',
    'usage: zmesh <command> [options]      zmesh <command> --help for details',
    '',
    'commands:',
    ...Object.entries(table).flatMap(([name, entry]) => commandLines(name, entry)),
    '',
    'Exit status: 0 ok, 1 failure, 2 invalid input or usage (FILE is then left untouched).',
  ];
  return `${lines.join('\n')}\n`;
}
