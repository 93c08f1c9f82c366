/**
 * The external peer's own WireGuard interface (`zmesh peer redeem`), in the namespace the tool
 * runs in: kernel WireGuard where the kernel has it, else a `zmesh-wg IFNAME` daemon (the
 * cross-platform userspace program, which wg-quick can also drive afterwards). Configured through
 * the same backends networkd uses (nr/wireguard), addresses and routes with ip(8).
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ready } from '../netdef/index.js';
import { packageRoot } from '../native/binding.js';
import {
  KernelWgBackend,
  type WgDesiredConfig,
  type WgDeviceStatus,
  minimalSetRequest,
  statusFromView,
  wireguardFamilyAvailable,
} from '../nr/index.js';
import { UapiClient } from '../wg/uapi/client.js';
import { SOCKET_DIRECTORY } from './zmesh-wg.js';

const run = promisify(execFile);
const OWN_NETNS = '/proc/thread-self/ns/net';
const MTU = 1420;

export interface PeerDevice {
  readonly name: string;
  readonly kind: 'kernel' | 'userspace';
  configure(config: WgDesiredConfig): Promise<void>;
  status(): Promise<WgDeviceStatus | null>;
}

async function ip(args: readonly string[]): Promise<void> {
  try {
    await run('ip', [...args]);
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (error as Error).message}`);
  }
}

/** True when a link `name` exists in this namespace. */
export async function linkExists(name: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

/** Creates interface `name` (the caller checked it does not exist); `userspace` forces zmesh-wg. */
export async function createPeerDevice(name: string, userspace: boolean): Promise<PeerDevice> {
  await ready();
  if (!userspace && wireguardFamilyAvailable()) {
    const backend = new KernelWgBackend({ netnsPaths: () => [OWN_NETNS] });
    await backend.ensureDevice(name, OWN_NETNS, MTU);
    return {
      name,
      kind: 'kernel',
      configure: (config) => backend.configure(name, config),
      status: () => backend.status(name),
    };
  }
  await startZmeshWg(name);
  const socket = join(SOCKET_DIRECTORY, `${name}.sock`);
  const uapi = new UapiClient({ timeoutMs: 5_000 });
  return {
    name,
    kind: 'userspace',
    configure: async (config) => {
      const request = minimalSetRequest(await uapi.get(socket), config);
      if (request) await uapi.set(socket, request);
    },
    status: async () => statusFromView(name, await uapi.get(socket)),
  };
}

/** `zmesh-wg NAME` daemonises once its TUN and UAPI socket exist (the spec's contract). */
async function startZmeshWg(name: string): Promise<void> {
  const program = join(packageRoot(), 'bin', 'zmesh-wg');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [program, name], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`zmesh-wg ${name} exited ${code}: ${stderr.trim().slice(-300)}`)),
    );
  });
}

/** Address, up, and the routes into the network through the interface. */
export async function bringUp(name: string, address: string, routes: readonly string[]): Promise<void> {
  await ip(['address', 'add', `${address}/32`, 'dev', name]);
  await ip(['link', 'set', name, 'mtu', String(MTU), 'up']);
  for (const route of routes) await ip(['route', 'replace', route, 'dev', name]);
}

export async function removeRoute(name: string, route: string): Promise<void> {
  await ip(['route', 'del', route, 'dev', name]).catch(() => {});
}

/** Deletes the interface (a zmesh-wg daemon exits when its TUN goes). Missing is fine. */
export async function removePeerDevice(name: string): Promise<void> {
  await ip(['link', 'del', name]).catch(() => {});
}
