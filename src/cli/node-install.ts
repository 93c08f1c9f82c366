/**
 * `zmesh node install [--state-dir D] [--unit-dir DIR] [--metrics ADDR:PORT]
 * [--provisiond-metrics ADDR:PORT] [--store URL --node ID] [--now]`: writes the node's systemd
 * units (systemd-units.ts); never starts them unless --now (then daemon-reload and enable --now).
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseMetricsAddress, MetricsAddressError } from '../metrics/server.js';
import { writeToolFile } from './files.js';
import { CliError, type Command, type Invocation } from './command.js';
import { NETWORKD_UNIT, PROVISIOND_UNIT, networkdUnit, provisiondUnit } from './systemd-units.js';

const SYSTEMCTL = '/usr/bin/systemctl';
const run = promisify(execFile);

function checkedAddress(text: string | undefined, flag: string): string | undefined {
  if (text === undefined) return undefined;
  try {
    parseMetricsAddress(text, flag);
  } catch (error) {
    if (error instanceof MetricsAddressError) throw CliError.invalid(flag, error.message.replace(`${flag}: `, ''));
    throw error;
  }
  return text;
}

/** The zmesh this process is: bin/zmesh (or its installed link), as an absolute path. */
function zmeshPath(): string {
  const script = process.argv[1];
  if (!script) throw CliError.failed('zmesh', 'cannot tell where the zmesh executable is');
  const real = realpathSync(script);
  // Run from the sources (tsx src/cli/main.ts): the unit still starts the built tool.
  return real.endsWith('/src/cli/main.ts') ? join(real, '../../../bin/zmesh') : real;
}

async function install({ args, io }: Invocation): Promise<void> {
  const stateDir = args.strings['state-dir'] ?? '/var/lib/zmesh';
  const unitDir = args.strings['unit-dir'] ?? '/etc/systemd/system';
  for (const [flag, value] of [
    ['--state-dir', stateDir],
    ['--unit-dir', unitDir],
  ] as const)
    if (!value.startsWith('/')) throw CliError.invalid(flag, 'must be an absolute path');
  if ((args.strings['store'] === undefined) !== (args.strings['node'] === undefined))
    throw CliError.invalid('--store', 'give --store URL and --node ID together');
  const networkdMetrics = checkedAddress(args.strings['metrics'], '--metrics');
  const provisiondMetrics = checkedAddress(args.strings['provisiond-metrics'], '--provisiond-metrics');
  const options = {
    zmesh: zmeshPath(),
    stateDir,
    metrics: {
      ...(networkdMetrics ? { networkd: networkdMetrics } : {}),
      ...(provisiondMetrics ? { provisiond: provisiondMetrics } : {}),
    },
    ...(args.strings['store'] !== undefined
      ? { store: { url: args.strings['store'], nodeId: args.strings['node'] as string } }
      : {}),
  };
  const units = [
    [NETWORKD_UNIT, networkdUnit(options)],
    [PROVISIOND_UNIT, provisiondUnit(options)],
  ] as const;
  for (const [name, text] of units) {
    await writeToolFile(join(unitDir, name), text, '--unit-dir', { mode: 0o644 });
    io.stdout(`wrote ${join(unitDir, name)}\n`);
  }
  if (args.flags['now'] !== true) {
    io.stdout(
      `start them with: systemctl daemon-reload && systemctl enable --now ${NETWORKD_UNIT} ${PROVISIOND_UNIT}\n`,
    );
    return;
  }
  try {
    await run(SYSTEMCTL, ['daemon-reload']);
    await run(SYSTEMCTL, ['enable', '--now', NETWORKD_UNIT, PROVISIOND_UNIT]);
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message)
      .trim()
      .slice(0, 300);
    throw CliError.failed('--now', `systemctl failed: ${stderr}`);
  }
  io.stdout(`started ${NETWORKD_UNIT} and ${PROVISIOND_UNIT}\n`);
}

export const nodeInstallCommand: Command = {
  summary: "write this node's systemd units (networkd, provisiond); start them only with --now",
  options: {
    'state-dir': {
      type: 'string',
      value: 'D',
      description: 'the node state dir from `zmesh node init` (default /var/lib/zmesh)',
    },
    'unit-dir': { type: 'string', value: 'DIR', description: 'where the units go (default /etc/systemd/system)' },
    metrics: { type: 'string', value: 'ADDR:PORT', description: "networkd's --metrics (default off)" },
    'provisiond-metrics': { type: 'string', value: 'ADDR:PORT', description: "provisiond's --metrics (default off)" },
    store: { type: 'string', value: 'URL', description: 'provisiond is the store agent of etcd://… (with --node)' },
    node: { type: 'string', value: 'ID', description: "this node's id in the store" },
    now: { type: 'boolean', description: 'also systemctl daemon-reload and enable --now both units' },
  },
  run: install,
};
