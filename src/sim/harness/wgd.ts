/**
 * `zmesh wgd` started inside a namespace of the world, as the netns tests and the nr benchmark run
 * it: the executable the simulated world runs (src/sim/zmesh-command.ts: dist/ when fresh, else
 * src/ under tsx), its control socket and UAPI directory given, and a client of its control socket.
 * The process belongs to the namespace's world, which stops it at teardown.
 */
import { WgdClient } from '../../wg/wgd/client.js';
import { WGD_NODE_OPTIONS } from '../../wg/wgd/node-options.js';
import { defaultZmeshInvocation, zmeshArgs } from '../zmesh-command.js';
import type { Namespace } from './namespace.js';
import type { BackgroundProcess } from './process.js';

export interface WgdProcess {
  readonly proc: BackgroundProcess;
  readonly client: WgdClient;
  readonly control: string;
  readonly uapiDir: string;
}

export interface WgdSpawnOptions {
  /** The control socket's path. */
  readonly control: string;
  /** The directory of the devices' UAPI sockets. */
  readonly uapiDir: string;
  /** Each control request's deadline (WgdClient's default when absent). */
  readonly clientTimeoutMs?: number;
}

/** How long a wgd may take to print its ready line on the shared 2-core machine. */
const READY_TIMEOUT_MS = 30_000;

/** Starts `zmesh wgd` inside `ns` and resolves once it printed its ready line. */
export async function spawnWgd(ns: Namespace, options: WgdSpawnOptions): Promise<WgdProcess> {
  const { control, uapiDir } = options;
  const invocation = defaultZmeshInvocation();
  // With the Node options networkd starts it with (the invocation's program is node).
  const args = zmeshArgs({ ...invocation, leadingArgs: [...WGD_NODE_OPTIONS, ...invocation.leadingArgs] }, [
    'wgd',
    '--control',
    control,
    '--uapi-dir',
    uapiDir,
  ]);
  const proc = ns.spawn(invocation.file, args);
  await proc.waitForOutput(/zmesh wgd: ready/, { timeoutMs: READY_TIMEOUT_MS });
  const clientOptions = options.clientTimeoutMs === undefined ? {} : { timeoutMs: options.clientTimeoutMs };
  return { proc, client: new WgdClient(control, clientOptions), control, uapiDir };
}
