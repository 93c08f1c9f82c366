/**
 * zmesh-cni's I/O around the pure core (core.ts): reads the environment and stdin, makes each
 * Call the core asks for — networkd's API through the one HTTP client (src/http/client.ts), the
 * workload's interface through `nsenter --net=NETNS ip -j addr`, a release into networkd's spool
 * (src/networkd/release-spool.ts) — and writes exactly one JSON document (or nothing, where the
 * spec says so) to stdout. Whatever happens, stdout never carries a stack trace: an unexpected
 * failure is error 104 naming its class.
 *
 * Imports are few on purpose, and those only some verbs need are loaded when a Call needs them
 * (child_process for CHECK, the spool for a DEL while networkd is down): a runtime starts this
 * program once per verb, and Node's start is most of its cost (bench:cni).
 */
import { HttpClientError, UnixHttpClient } from '../http/client.js';
import { type Answer, type Call, type InterfaceState, type Step, failure, start } from './core.js';
import { parseInvocation } from './invocation.js';
import { CniErrorCode, CURRENT_VERSION, cniError } from './spec.js';

/** How long one networkd request may take (an ADD waits behind networkd's queue). */
const NETWORKD_TIMEOUT_MS = 60_000;

export interface CniOutput {
  readonly exitCode: number;
  readonly stdout: string;
}

const path = (network: string) => `/v1/networks/${encodeURIComponent(network)}`;

async function http(client: UnixHttpClient, method: string, url: string, body?: unknown): Promise<Answer> {
  try {
    const answer = await client.request(method, url, body === undefined ? {} : { body });
    return { kind: 'http', status: answer.status, body: answer.body };
  } catch (error) {
    if (error instanceof HttpClientError) return { kind: 'unreachable', message: error.message };
    throw error;
  }
}

interface IpAddrJson {
  address?: string;
  mtu?: number;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** The interface in the namespace, by `ip -j addr show dev` run inside it (nsenter takes any netns path). */
async function readInterface(netns: string, ifname: string): Promise<Answer> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(
      'nsenter',
      [`--net=${netns}`, 'ip', '-j', 'addr', 'show', 'dev', ifname],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error) {
          if (/does not exist/.test(stderr)) resolve({ kind: 'interface', state: null });
          else resolve({ kind: 'interface', state: null, error: stderr.trim().split('\n')[0] || error.message });
          return;
        }
        try {
          const [link] = JSON.parse(stdout) as IpAddrJson[];
          if (link === undefined) return resolve({ kind: 'interface', state: null });
          const addresses = (link.addr_info ?? [])
            .filter((a) => a.family === 'inet')
            .map((a) => `${a.local}/${a.prefixlen}`);
          const state: InterfaceState = { mac: link.address ?? null, mtu: link.mtu ?? 0, addresses };
          resolve({ kind: 'interface', state });
        } catch {
          resolve({ kind: 'interface', state: null, error: 'ip -j answered what is not JSON' });
        }
      },
    );
  });
}

async function perform(call: Call, clients: Map<string, UnixHttpClient>): Promise<Answer> {
  if (call.kind === 'read-interface') return readInterface(call.netns, call.ifname);
  if (call.kind === 'spool-release') {
    try {
      const { releaseSpoolDir, spoolRelease } = await import('../networkd/release-spool.js');
      const outcome = await spoolRelease(releaseSpoolDir(call.socket), {
        network: call.network,
        workload: call.workload,
      });
      return { kind: 'spool', outcome };
    } catch (error) {
      return { kind: 'spool', outcome: 'failed', message: (error as NodeJS.ErrnoException).code ?? 'error' };
    }
  }
  let client = clients.get(call.socket);
  if (client === undefined) {
    client = new UnixHttpClient({ socketPath: call.socket, timeoutMs: NETWORKD_TIMEOUT_MS });
    clients.set(call.socket, client);
  }
  switch (call.kind) {
    case 'attach':
      return http(client, 'POST', `${path(call.network)}/workloads`, call.body);
    case 'detach':
      return http(client, 'DELETE', `${path(call.network)}/workloads/${encodeURIComponent(call.workload)}`);
    case 'get-network':
      return http(client, 'GET', path(call.network));
    case 'gc':
      return http(client, 'POST', `${path(call.network)}/workloads/gc`, { keep: call.keep });
  }
}

/** Runs one invocation: env and stdin in, the exit code and stdout out. */
export async function runCni(env: NodeJS.ProcessEnv, stdin: string): Promise<CniOutput> {
  const parsed = parseInvocation(env, stdin);
  if (!parsed.ok) return finished(failure(parsed.cniVersion, parsed.error));
  const clients = new Map<string, UnixHttpClient>();
  try {
    let step: Step = start(parsed.invocation);
    while (step.kind === 'call') step = step.next(await perform(step.call, clients));
    return finished(step);
  } catch (error) {
    const version = parsed.invocation.command === 'VERSION' ? CURRENT_VERSION : parsed.invocation.config.cniVersion;
    const name = error instanceof Error ? error.name : typeof error;
    return finished(
      failure(
        version,
        cniError(CniErrorCode.INTERNAL, `zmesh-cni failed internally (${name}) during ${parsed.invocation.command}`),
      ),
    );
  } finally {
    for (const client of clients.values()) client.close();
  }
}

function finished(step: Step): CniOutput {
  if (step.kind !== 'done') throw new Error('unreachable: a step that is not done');
  return { exitCode: step.exitCode, stdout: step.stdout };
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    if (process.stdin.isTTY) return resolve('');
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** The program: bin/zmesh-cni. */
export async function cniMain(): Promise<number> {
  let output: CniOutput;
  try {
    output = await runCni(process.env, await readStdin());
  } catch {
    output = finished(
      failure(CURRENT_VERSION, cniError(CniErrorCode.IO_FAILURE, 'zmesh-cni could not read its stdin')),
    );
  }
  await new Promise<void>((resolve) => process.stdout.write(output.stdout, () => resolve()));
  return output.exitCode;
}
