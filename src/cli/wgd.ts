/**
 * `zmesh wgd --control SOCKET [--uapi-dir DIR]`: the userspace WireGuard daemon hosting many
 * devices (src/wg/wgd/daemon.ts says why it must outlive networkd). Runs in the foreground in
 * the node's namespace until SIGTERM/SIGINT, then closes every device and socket and exits 0.
 * Prints one `ready` line on stdout once the control socket answers; events go to stderr.
 * SIGHUP and a vanished log reader are ignored: only SIGTERM/SIGINT end the data plane.
 */
import { LOG_OPTIONS, logFromArgs } from './log-option.js';
import { Wgd } from '../wg/wgd/daemon.js';
import { WgdError } from '../wg/wgd/errors.js';
import { realDeviceOpener } from '../wg/wgd/open-device.js';
import { DEFAULT_UAPI_DIR } from '../wg/wgd/registry.js';
import { CliError, type Command, type Invocation } from './command.js';

/** If something still holds the event loop after a clean stop, leave anyway after this long. */
const EXIT_GRACE_MS = 3000;

async function run({ args, io }: Invocation): Promise<void> {
  const controlSocket = args.strings['control'] as string; // required by the option table
  const uapiDir = args.strings['uapi-dir'] ?? DEFAULT_UAPI_DIR;
  if (!controlSocket.startsWith('/')) throw CliError.invalid('--control', 'must be an absolute path');
  if (!uapiDir.startsWith('/')) throw CliError.invalid('--uapi-dir', 'must be an absolute path');
  const verbose = process.env.LOG_LEVEL === 'verbose';
  const log = logFromArgs(args, 'wgd', undefined, io.stderr);
  let wgd: Wgd;
  try {
    wgd = await Wgd.start({
      controlSocket,
      uapiDir,
      openDevice: realDeviceOpener(verbose ? (device, message) => log(`${device}: ${message}`) : undefined),
      log,
    });
  } catch (error) {
    if (error instanceof WgdError && error.context.field === 'uapiDir')
      throw CliError.invalid('--uapi-dir', error.message.replace(/^uapiDir: /, ''));
    if (error instanceof WgdError) throw CliError.failed('--control', error.message);
    throw error;
  }
  // The data plane must not die with a log reader: a closed stdout/stderr pipe is ignored, and so
  // is SIGHUP (a closed terminal); only SIGTERM/SIGINT stop wgd.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  process.on('SIGHUP', () => log('SIGHUP ignored (SIGTERM or SIGINT stops wgd)'));
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  io.stdout(`zmesh wgd: ready, pid ${process.pid}, control socket ${wgd.controlSocket}, UAPI sockets in ${uapiDir}\n`);
  const reason = await stopped;
  log(`stopping (${reason}): closing ${wgd.registry.size} device(s)`);
  await wgd.close();
  log('stopped');
  setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
}

export const wgdCommand: Command = {
  summary: 'userspace WireGuard daemon hosting many devices, driven by networkd over a control socket',
  options: {
    control: {
      type: 'string',
      value: 'SOCKET',
      required: true,
      description: 'control socket path (directory created 0700; socket root-only)',
    },
    'uapi-dir': {
      type: 'string',
      value: 'DIR',
      description: `directory of the devices' UAPI sockets DIR/NAME.sock (default ${DEFAULT_UAPI_DIR}, where wg(8) looks)`,
    },
    ...LOG_OPTIONS,
  },
  notes: [
    'Control protocol: one JSON object per line, e.g. {"op":"create","name":"w-abc","netns":"/run/netns/n-abc","mtu":1420},',
    '{"op":"delete","name":"w-abc"}, {"op":"list"}, {"op":"ping"}. Each device has its TUN in the given namespace and its',
    'UDP sockets in the namespace wgd runs in. Keys live only in memory: configure devices over their UAPI sockets.',
    'Restarting networkd must not restart wgd (start it in its own session): the data plane lives as long as wgd.',
    'LOG_LEVEL=verbose adds per-device diagnostics.',
  ].join('\n'),
  run,
};
