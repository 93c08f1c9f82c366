/** `--log-format json|pretty` and `--log-level` of the daemons, parsed into a Log (src/common/log.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_FORMATS, LOG_LEVELS, type Log, type LogFormat, type LogLevel, createLog } from '../common/log.js';
import { CliError, type OptionSpec, type ParsedArgs } from './command.js';

export const LOG_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'log-format': {
    type: 'string',
    value: 'json|pretty',
    description: 'logs on stderr: JSON lines (default; time, level, component, node, network, task) or readable lines',
  },
  'log-level': { type: 'string', value: 'debug|info|warn|error', description: 'the least level logged (default info)' },
};

export function logFromArgs(
  args: ParsedArgs,
  component: string,
  node: string | undefined,
  write: (line: string) => void,
): Log {
  const format = (args.strings['log-format'] ?? 'json') as LogFormat;
  if (!LOG_FORMATS.includes(format)) throw CliError.invalid('--log-format', `must be one of ${LOG_FORMATS.join(', ')}`);
  const level = (args.strings['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw CliError.invalid('--log-level', `must be one of ${LOG_LEVELS.join(', ')}`);
  return createLog({ component, format, level, write, ...(node ? { node } : {}) });
}

/** The node id in D/node.json, for the logs' `node` field; undefined before `zmesh node init`. */
export function nodeIdIn(stateDir: string): string | undefined {
  try {
    const id = (JSON.parse(readFileSync(join(stateDir, 'node.json'), 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
