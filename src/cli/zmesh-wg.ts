/**
 * `zmesh-wg [-f|--foreground] IFNAME`: one userspace WireGuard interface with
 * the command line and lifecycle of the cross-platform userspace spec, so that
 * wg(8), wg-quick (WG_QUICK_USERSPACE_IMPLEMENTATION=zmesh-wg) and harnesses
 * written for wireguard-go drive it unchanged:
 * - the TUN IFNAME and the UAPI socket /var/run/wireguard/IFNAME.sock exist
 *   before the launching process returns;
 * - without -f it daemonises (the foreground child reports readiness over a
 *   pipe, then the parent exits 0);
 * - it exits on SIGINT/SIGTERM, when its interface is deleted, and when its
 *   socket file is deleted.
 * Both the TUN and the UDP socket are made in the namespace it was started in; the interface may
 * then be moved to another namespace (wireguard.com/netns): the sockets stay in this "birthplace"
 * and the device lives on until the interface is deleted, wherever it is by then.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { WireGuardDevice } from '../wg/device.js';
import { UapiServer } from '../wg/uapi/server.js';

export const SOCKET_DIRECTORY = '/var/run/wireguard';
const READY_FD_ENV = 'ZMESH_WG_READY_FD';
const DAEMON_START_TIMEOUT_MS = 15_000;

const USAGE = `Usage: zmesh-wg [-f/--foreground] INTERFACE-NAME

Userspace WireGuard interface, a drop-in for wireguard-go: configure it with
wg(8) through ${SOCKET_DIRECTORY}/INTERFACE-NAME.sock.
Environment: LOG_LEVEL=verbose|error|silent (default error); WG_PROCESS_FOREGROUND=1 is -f.
`;

interface Args {
  readonly foreground: boolean;
  readonly name: string;
}

function parseArgs(argv: readonly string[]): Args | string {
  let foreground = process.env.WG_PROCESS_FOREGROUND === '1';
  const names: string[] = [];
  for (const arg of argv) {
    if (arg === '-f' || arg === '--foreground') foreground = true;
    else if (arg === '--version') return 'version';
    else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else names.push(arg);
  }
  if (names.length !== 1) return 'exactly one interface name is required';
  const name = names[0]!;
  if (Buffer.byteLength(name) > 15 || !/^[A-Za-z0-9_.=+-]+$/.test(name) || name === '.' || name === '..') {
    return `invalid interface name '${name}' (1–15 bytes of letters, digits and _.=+-)`;
  }
  return { foreground, name };
}

type Level = 'verbose' | 'error' | 'silent';

function logger(name: string): { info: (m: string) => void; error: (m: string) => void } {
  const level: Level = (['verbose', 'error', 'silent'] as const).find((l) => l === process.env.LOG_LEVEL) ?? 'error';
  const stamp = (): string => new Date().toISOString();
  return {
    info: (m) => {
      if (level === 'verbose') process.stderr.write(`${stamp()} zmesh-wg ${name}: ${m}\n`);
    },
    error: (m) => {
      if (level !== 'silent') process.stderr.write(`${stamp()} zmesh-wg ${name}: error: ${m}\n`);
    },
  };
}

/** The parent side of daemon mode: start the foreground child detached and wait until it is ready. */
async function daemonize(name: string): Promise<number> {
  const script = process.argv[1];
  if (!script) {
    process.stderr.write('zmesh-wg: cannot find its own script to daemonise\n');
    return 1;
  }
  const child = spawn(process.execPath, [...process.execArgv, script, '--foreground', name], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: '3' },
  });
  const readyPipe = child.stdio[3] as NodeJS.ReadableStream;
  const stderr = child.stderr!;
  let errors = '';
  stderr.on('data', (d: Buffer) => {
    errors += d.toString();
  });
  const outcome = await new Promise<'ready' | string>((resolve) => {
    const timer = setTimeout(() => resolve('timed out waiting for the interface to come up'), DAEMON_START_TIMEOUT_MS);
    readyPipe.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve('ready');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(`exited with ${signal ?? `status ${code}`}`);
    });
  });
  if (outcome === 'ready') {
    // Let the daemon's stderr go: it is not ours to keep open.
    stderr.destroy();
    (readyPipe as unknown as { destroy(): void }).destroy();
    child.unref();
    return 0;
  }
  process.stderr.write(errors || `zmesh-wg: ${name}: ${outcome}\n`);
  if (child.exitCode === null) child.kill('SIGTERM');
  return 1;
}

/** The daemon itself: device + UAPI socket until a reason to stop. */
async function runForeground(name: string): Promise<number> {
  const log = logger(name);
  let device: WireGuardDevice;
  try {
    device = await WireGuardDevice.create({
      name,
      tunNetns: null,
      udpNetns: null,
      log: log.info,
      onGone: (why) => void stop(why),
    });
  } catch (error) {
    log.error(`cannot create the interface: ${(error as Error).message}`);
    return 1;
  }
  let server: UapiServer;
  try {
    server = await UapiServer.listen(path.join(SOCKET_DIRECTORY, `${name}.sock`), device, {
      onSocketRemoved: () => void stop('the UAPI socket was removed'),
      onRequestError: (e) => log.info(`UAPI request refused: ${e.message}`),
    });
  } catch (error) {
    device.close();
    log.error(`cannot listen on the UAPI socket: ${(error as Error).message}`);
    return 1;
  }
  let stopping = false;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  async function stop(reason: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info(`shutting down: ${reason}`);
    await server.close().catch(() => {});
    device.close();
    resolveDone(0);
  }
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  log.info(`up, listening on port ${device.listenPort}`);

  const readyFd = process.env[READY_FD_ENV];
  if (readyFd) {
    delete process.env[READY_FD_ENV];
    const ready = createWriteStream('', { fd: Number(readyFd) });
    ready.end('ready\n');
    // A daemon's stderr is its parent's pipe: once the parent is gone, writing there would fail.
    process.stderr.on('error', () => {});
  }
  return done;
}

export async function zmeshWgMain(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'version') {
    process.stdout.write('zmesh-wg (zmesh userspace WireGuard)\n');
    return 0;
  }
  if (typeof args === 'string') {
    process.stderr.write(`zmesh-wg: ${args}\n${USAGE}`);
    return 1;
  }
  return args.foreground ? runForeground(args.name) : daemonize(args.name);
}
