/**
 * `zmesh provisiond --state-dir D --networkd-socket S [--socket A] [--spool DIR] [--concurrency N]`:
 * the node's durable task queue (src/provisiond/daemon.ts). Runs in the foreground until
 * SIGTERM/SIGINT, then lets attempts in flight be recorded and exits 0. Prints one `ready` line
 * on stdout once the API answers. If the database fails, it exits 1 at once: a restart recovers
 * from the database, which never holds a half-written state.
 */
import { DEFAULT_BACKOFF } from '../provisiond/backoff.js';
import { metricsAddressOption } from './metrics-option.js';
import { LOG_OPTIONS, logFromArgs } from './log-option.js';
import { DEFAULT_SOCKET } from '../provisiond/client.js';
import { Provisiond } from '../provisiond/daemon.js';
import { ProvisiondError, asProvisiondError } from '../provisiond/errors.js';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS } from '../provisiond/queue.js';
import { CliError, type Command, type Invocation } from './command.js';

function integerOption(args: Invocation['args'], name: string, fallback: number, min: number, max: number): number {
  const text = args.strings[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^[0-9]{1,9}$/.test(text) || value < min || value > max)
    throw CliError.invalid(`--${name}`, `must be an integer from ${min} to ${max}`);
  return value;
}

async function run({ args, io }: Invocation): Promise<void> {
  const stateDir = args.strings['state-dir'] as string; // required by the option table
  const networkdSocket = args.strings['networkd-socket'] as string;
  for (const name of ['state-dir', 'networkd-socket', 'socket', 'spool', 'node-state-dir']) {
    const value = args.strings[name];
    if (value !== undefined && !value.startsWith('/')) throw CliError.invalid(`--${name}`, 'must be an absolute path');
  }
  if ((args.strings['store'] === undefined) !== (args.strings['node'] === undefined))
    throw CliError.invalid('--store', 'give --store URL and --node ID together');
  const nodeStateDir = args.strings['node-state-dir'];
  if (args.strings['store'] !== undefined && nodeStateDir === undefined) {
    throw CliError.invalid(
      '--node-state-dir',
      "required with --store: the node's state directory, whose trusted admin keys the agent checks definitions against",
    );
  }
  const concurrency = integerOption(args, 'concurrency', DEFAULT_CONCURRENCY, 1, 1024);
  const baseMs = integerOption(args, 'retry-base-ms', DEFAULT_BACKOFF.baseMs, 1, 3_600_000);
  const maxMs = integerOption(args, 'retry-max-ms', Math.max(DEFAULT_BACKOFF.maxMs, baseMs), baseMs, 86_400_000);
  const maxAttempts = integerOption(args, 'max-attempts', DEFAULT_MAX_ATTEMPTS, 1, 1_000_000);
  const log = logFromArgs(args, 'provisiond', args.strings['node'], io.stderr);
  let daemon: Provisiond;
  try {
    daemon = await Provisiond.start({
      stateDir,
      networkdSocket,
      socket: args.strings['socket'] ?? DEFAULT_SOCKET,
      ...(args.strings['spool'] === undefined ? {} : { spoolDir: args.strings['spool'] }),
      concurrency,
      backoff: { baseMs, maxMs },
      maxAttempts,
      log,
      ...metricsAddressOption(args.strings['metrics']),
      ...(args.strings['store'] === undefined
        ? {}
        : {
            store: {
              url: args.strings['store'],
              nodeId: args.strings['node'] as string,
              nodeStateDir: nodeStateDir as string,
            },
          }),
      onFatal: (error) => {
        log(`the task database failed (${asProvisiondError(error).message}); exiting so that a restart recovers`);
        process.exit(1);
      },
    });
  } catch (error) {
    if (error instanceof ProvisiondError)
      throw CliError.failed(error.context.field ?? 'provisiond', error.message.replace(/^--[a-z-]+: /, ''));
    throw error;
  }
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const metricsText = daemon.metricsServer ? `, metrics port ${daemon.metricsServer.address.port}` : '';
  io.stdout(`zmesh provisiond: ready, pid ${process.pid}, API ${daemon.socketPath}${metricsText}\n`);
  const reason = await stopped;
  log(`stopping (${reason})`);
  await daemon.stop();
  log('stopped');
  setTimeout(() => process.exit(0), 2000).unref();
}

export const provisiondCommand: Command = {
  summary:
    "the node's durable task queue: takes tasks (API, spool), hands them to networkd in order per network, retries",
  options: {
    'state-dir': {
      type: 'string',
      value: 'D',
      required: true,
      description: 'where the task database lives (D/provisiond.db, created 0700/0600)',
    },
    'networkd-socket': { type: 'string', value: 'S', required: true, description: "networkd's API socket" },
    socket: { type: 'string', value: 'A', description: `the local API socket (default ${DEFAULT_SOCKET}; root-only)` },
    spool: {
      type: 'string',
      value: 'DIR',
      description:
        'a spool directory: NAME.json files dropped in are queued, then moved to DIR/done/ or DIR/failed/ (+ NAME.json.error.txt)',
    },
    concurrency: {
      type: 'string',
      value: 'N',
      description: `tasks in flight across networks (default ${DEFAULT_CONCURRENCY}); one network's tasks always run one at a time`,
    },
    'retry-base-ms': {
      type: 'string',
      value: 'MS',
      description: `first retry delay before jitter (default ${DEFAULT_BACKOFF.baseMs})`,
    },
    'retry-max-ms': {
      type: 'string',
      value: 'MS',
      description: `longest retry delay (default ${DEFAULT_BACKOFF.maxMs})`,
    },
    store: {
      type: 'string',
      value: 'URL',
      description:
        "be this node's store agent: watch etcd://HOST:PORT,… and queue network.apply / network.delete for the networks this node is in (needs --node)",
    },
    node: { type: 'string', value: 'ID', description: "this node's id in the store (its record from zmesh node init)" },
    'node-state-dir': {
      type: 'string',
      value: 'D',
      description:
        "with --store: the node's state directory (zmesh node init's); the agent enqueues only definitions signed by an admin key trusted there",
    },
    metrics: {
      type: 'string',
      value: 'ADDR:PORT',
      description: 'serve Prometheus metrics on http://ADDR:PORT/metrics (default off)',
    },
    ...LOG_OPTIONS,
    'max-attempts': {
      type: 'string',
      value: 'N',
      description: `attempts before a task that networkd answers with 5xx fails (default ${DEFAULT_MAX_ATTEMPTS}); an unreachable networkd is waited for without limit`,
    },
  },
  notes: [
    'A task: {"id": "...", "type": "network.apply", "definition": {...}} | {"id", "type": "network.delete", "network"} |',
    '{"id", "type": "workload.attach", "network", "workload", "netns", "ifname", "ip"?} | {"id", "type": "workload.detach", "network", "workload"}.',
    'The id is the idempotency key: the same id and body again is the same task; another body under a used id is refused.',
    'Each attempt is sent to networkd with X-Task-Id: ID, so a task re-sent after a crash is not done twice.',
    'API (HTTP+JSON over the socket): POST /v1/tasks; GET /v1/tasks[?network=&state=]; GET /v1/tasks/ID; POST /v1/tasks/ID/cancel; GET /v1/health.',
  ].join('\n'),
  run,
};
