/**
 * `zmesh status [--json]`: this node at a glance, from networkd's and provisiond's sockets
 * (read-only GETs through the one HTTP client): backend, wgd, last reconcile; per network its
 * peers with handshake age and traffic, its workloads; tasks and the store. Exits 1 when
 * something is unhealthy (status-view.ts says what), so it serves as a health check.
 */
import { join } from 'node:path';
import { UnixHttpClient } from '../http/client.js';
import { DEFAULT_SOCKET as PROVISIOND_SOCKET } from '../provisiond/client.js';
import { CliError, type Command, type Invocation } from './command.js';
import {
  type NetworkdHealth,
  type NetworkStatus,
  type NodeStatus,
  type ProvisiondStatus,
  type FailedTask,
  judge,
  renderStatus,
} from './status-view.js';

const DEFAULT_STATE_DIR = '/var/lib/zmesh';
const TIMEOUT_MS = 10_000;

async function getJson(client: UnixHttpClient, path: string): Promise<unknown> {
  const answer = await client.request('GET', path);
  if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
  return answer.body;
}

/** What a daemon answered, or why it did not (the message names the socket). */
async function ask<T>(socket: string, work: (client: UnixHttpClient) => Promise<T>): Promise<T | { error: string }> {
  const client = new UnixHttpClient({ socketPath: socket, timeoutMs: TIMEOUT_MS });
  try {
    return await work(client);
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    client.close();
  }
}

export async function readNodeStatus(networkdSocket: string, provisiondSocket: string | null): Promise<NodeStatus> {
  const networkd = await ask(networkdSocket, async (c) => ({
    health: (await getJson(c, '/v1/health')) as NetworkdHealth,
    networks: ((await getJson(c, '/v1/networks')) as { networks: NetworkStatus[] }).networks,
  }));
  const provisiond =
    provisiondSocket === null
      ? null
      : await ask(provisiondSocket, async (c): Promise<ProvisiondStatus> => {
          const health = (await getJson(c, '/v1/health')) as {
            pid: number;
            tasks: Record<string, number>;
            store?: ProvisiondStatus['store'];
          };
          const failed = ((await getJson(c, '/v1/tasks?state=failed')) as { tasks: FailedTask[] }).tasks;
          return { pid: health.pid, tasks: health.tasks, failed, store: health.store ?? null };
        });
  const partial = { networkd, provisiond };
  return { ...partial, problems: judge(partial) };
}

async function run({ args, io }: Invocation): Promise<void> {
  const stateDir = args.strings['state-dir'] ?? DEFAULT_STATE_DIR;
  const networkdSocket = args.strings['networkd-socket'] ?? join(stateDir, 'networkd.sock');
  const provisiondText = args.strings['provisiond-socket'] ?? PROVISIOND_SOCKET;
  for (const [flag, value] of [
    ['--state-dir', stateDir],
    ['--networkd-socket', networkdSocket],
  ] as const) {
    if (!value.startsWith('/')) throw CliError.invalid(flag, 'must be an absolute path');
  }
  if (provisiondText !== 'none' && !provisiondText.startsWith('/'))
    throw CliError.invalid('--provisiond-socket', 'must be an absolute path or none');
  const status = await readNodeStatus(networkdSocket, provisiondText === 'none' ? null : provisiondText);
  io.stdout(args.flags['json'] ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
  if (status.problems.length > 0) throw CliError.failed('health', `unhealthy: ${status.problems.length} problem(s)`);
}

export const statusCommand: Command = {
  summary: "this node's health: networkd, peers and handshakes, workloads, tasks, store; exit 1 when unhealthy",
  options: {
    'state-dir': {
      type: 'string',
      value: 'D',
      description: `the node state dir (default ${DEFAULT_STATE_DIR}); networkd's socket is D/networkd.sock`,
    },
    'networkd-socket': { type: 'string', value: 'S', description: "networkd's API socket (default D/networkd.sock)" },
    'provisiond-socket': {
      type: 'string',
      value: 'A|none',
      description: `provisiond's API socket (default ${PROVISIOND_SOCKET}; none: do not ask)`,
    },
    json: { type: 'boolean', description: 'print the status as JSON (same content, for scripts)' },
  },
  notes: [
    'Unhealthy (exit 1): networkd or provisiond unreachable, errors in the last reconcile, a network resource missing,',
    'a peer that had a handshake but none for 3 minutes, a task failed in the last hour, the store agent disconnected.',
  ].join('\n'),
  run,
};
