/**
 * `zmesh networkd --state-dir D [--prefix P] [--wg auto|kernel|userspace] [--socket S]
 * [--reconcile-interval SECONDS]`: the node's network daemon (src/networkd/daemon.ts). Runs in
 * the foreground until SIGTERM/SIGINT, then stops its API and exits 0, leaving the data plane
 * (namespaces, links, wgd) running. Prints one `ready` line on stdout once the API answers.
 */
import { Networkd, type WgChoice } from '../networkd/daemon.js';
import { NetworkdError } from '../networkd/errors.js';
import { createNrDataPlane } from '../networkd/nr-data-plane.js';
import { CliError, type Command, type Invocation } from './command.js';
import { metricsOption } from './metrics-option.js';
import { LOG_OPTIONS, logFromArgs, nodeIdIn } from './log-option.js';

const WG_CHOICES: readonly WgChoice[] = ['auto', 'kernel', 'userspace'];

async function run({ args, io }: Invocation): Promise<void> {
  const stateDir = args.strings['state-dir'] as string; // required by the option table
  if (!stateDir.startsWith('/')) throw CliError.invalid('--state-dir', 'must be an absolute path');
  const wg = (args.strings['wg'] ?? 'auto') as WgChoice;
  if (!WG_CHOICES.includes(wg)) throw CliError.invalid('--wg', `must be one of ${WG_CHOICES.join(', ')}`);
  const intervalText = args.strings['reconcile-interval'] ?? '30';
  const interval = Number(intervalText);
  if (!/^\d+(\.\d+)?$/.test(intervalText) || interval < 1 || interval > 86_400)
    throw CliError.invalid('--reconcile-interval', 'must be a number of seconds from 1 to 86400');
  const socket = args.strings['socket'];
  if (socket !== undefined && !socket.startsWith('/')) throw CliError.invalid('--socket', 'must be an absolute path');
  const log = logFromArgs(args, 'networkd', nodeIdIn(stateDir), io.stderr);
  let daemon: Networkd;
  try {
    daemon = await Networkd.start({
      stateDir,
      prefix: args.strings['prefix'] ?? '',
      wg,
      ...(socket === undefined ? {} : { socket }),
      reconcileIntervalSeconds: interval,
      log,
      createPlane: createNrDataPlane,
      ...metricsOption(args.strings['metrics'], args.strings['metrics-interval']),
    });
  } catch (error) {
    if (error instanceof NetworkdError)
      throw CliError.failed(error.context.field ?? 'networkd', error.message.replace(/^--[a-z-]+: /, ''));
    throw error;
  }
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const wgText = daemon.wgBackend === 'kernel' ? 'kernel WireGuard' : `wgd pid ${daemon.wgdPid}`;
  const metricsText = daemon.metricsAddress ? `, metrics port ${daemon.metricsAddress.port}` : '';
  io.stdout(`zmesh networkd: ready, pid ${process.pid}, API ${daemon.socketPath}, ${wgText}${metricsText}\n`);
  const reason = await stopped;
  log(`stopping (${reason}): API closed; the data plane and wgd keep running`);
  await daemon.stop();
  // Nothing of networkd must keep the process: wgd is not our child to wait for.
  setTimeout(() => process.exit(0), 2000).unref();
}

export const networkdCommand: Command = {
  summary: "the node's network daemon: applies networks, attaches workloads, reconciles, supervises wgd",
  options: {
    'state-dir': {
      type: 'string',
      value: 'D',
      required: true,
      description:
        'the node state dir (identity.key, node.json from `zmesh node init`); networkd keeps its state in D/networkd/',
    },
    prefix: {
      type: 'string',
      value: 'P',
      description: 'prefix of every namespace and host link networkd creates (0-8 of a-z0-9; default none)',
    },
    wg: {
      type: 'string',
      value: 'auto|kernel|userspace',
      description:
        "WireGuard backend (default auto: the kernel's when it has the wireguard family, else userspace through wgd)",
    },
    socket: { type: 'string', value: 'S', description: 'API socket (default D/networkd.sock; root-only)' },
    'reconcile-interval': {
      type: 'string',
      value: 'SECONDS',
      description: 'seconds between reconcile passes (default 30)',
    },
    metrics: {
      type: 'string',
      value: 'ADDR:PORT',
      description: 'serve Prometheus metrics on http://ADDR:PORT/metrics (default off; e.g. 127.0.0.1:9464)',
    },
    'metrics-interval': {
      type: 'string',
      value: 'SECONDS',
      description: 'seconds between data-plane samples for the metrics (default 10)',
    },
    ...LOG_OPTIONS,
  },
  notes: [
    'API (HTTP+JSON over the UNIX socket): GET /v1/health; GET /v1/networks[/NAME]; PUT /v1/networks/NAME (a definition);',
    'DELETE /v1/networks/NAME; POST /v1/networks/NAME/workloads {workload, netns, ifname, ip?};',
    'DELETE /v1/networks/NAME/workloads/ID. X-Task-Id makes a change idempotent. e.g.',
    '  curl --unix-socket D/networkd.sock http://networkd/v1/networks',
    'SIGTERM stops the API only: traffic keeps flowing; a restart adopts what exists.',
  ].join('\n'),
  run,
};
