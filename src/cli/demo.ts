/**
 * `zmesh demo [--once] [--interval SECONDS]`: the simulated multi-node world end to end. Builds an
 * internet namespace with a TEST-NET server, two public and two hidden (NAT'd) nodes each running
 * networkd (and wgd) and provisiond as the store's agent, a 3-member etcd cluster, defines a
 * network with the tool in the store (the nodes converge by themselves: nothing is pushed),
 * attaches a workload namespace on each NR, and shows the nodes, NRs, WireGuard peers and a
 * reachability matrix. Live mode refreshes until Ctrl-C; `--once` checks once. Either way
 * everything is torn down at the end. Exit status with --once: 0 only if everything that should
 * connect did (all workload pairs, egress from the node's address) and nothing that should be
 * blocked was (new connections from the internet to workloads).
 */
import { interceptNextSignal } from '../sim/harness/exit-hooks.js';
import { egressChecks, formatChecks, inboundChecks, reachabilityChecks, type CheckResult } from '../sim/checks.js';
import type { StandardMesh } from '../sim/mesh.js';
import { buildFleetMesh, type FleetMesh } from '../sim/fleet.js';
import { formatMatrix } from '../sim/reachability.js';
import { statusReport } from '../sim/status.js';
import { CliError, type Command, type Invocation } from './command.js';
import { type LivePeers, networkDot } from './graph-dot.js';
import { renderDot } from './graph.js';
import type { NetworkDefinition } from '../netdef/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEFAULT_INTERVAL_SECONDS = 5;

async function matrixText(mesh: StandardMesh): Promise<{ text: string; checks: CheckResult[] }> {
  const results = await mesh.world.reachability(mesh.workloads, { count: 2 });
  const labels = mesh.workloads.map((w) => w.label);
  const addresses = mesh.workloads.map((w) => `  ${w.label.padEnd(14)} ${w.ip}`).join('\n');
  return {
    text: `workloads:\n${addresses}\n\nreachability (ping):\n${formatMatrix(labels, results)}`,
    checks: reachabilityChecks(results),
  };
}

/** `zmesh net status` through the store: each node's applied revision against the network's. */
async function rolloutText(mesh: FleetMesh): Promise<{ text: string; check: CheckResult }> {
  const r = await mesh.fleet.net('status', mesh.net.name, [], { check: false });
  const summary = /(\d+)\/(\d+) nodes at revision (\d+)/.exec(r.stdout);
  const ok = r.exitCode === 0 && summary !== null && summary[1] === summary[2];
  return {
    text: `rollout through the store (${mesh.fleet.url}):\n${r.exitCode === 0 ? r.stdout.trimEnd() : r.stderr.trim()}`,
    check: {
      name: "every node applied the store's revision",
      expected: 'all nodes at the latest revision',
      seen: summary ? summary[0] : r.stderr.trim().slice(0, 80),
      ok,
    },
  };
}

/** The network as an SVG (zmesh net graph), alpha's peerings coloured by their live handshakes. */
async function drawGraph(mesh: FleetMesh, file: string): Promise<string> {
  const def = mesh.net.definition() as NetworkDefinition;
  try {
    const live = (await mesh.world.node('alpha').api.getNetwork(def.name)) as {
      node: string;
      device: { peers: LivePeers['peers'] } | null;
    };
    await renderDot(networkDot(def, { node: live.node, peers: live.device?.peers ?? [] }), 'svg', file);
    return `graph: ${file} (refreshed ${new Date().toISOString().slice(11, 19)})`;
  } catch (error) {
    return `graph: not drawn (${(error as Error).message})`;
  }
}

async function run({ args, io }: Invocation): Promise<void> {
  const once = args.flags['once'] === true;
  const intervalText = args.strings['interval'];
  const interval = intervalText === undefined ? DEFAULT_INTERVAL_SECONDS : Number(intervalText);
  if (!Number.isFinite(interval) || interval < 1 || interval > 3600)
    throw CliError.invalid('--interval', `${intervalText} is not a number of seconds from 1 to 3600`);
  if (process.getuid?.() !== 0) throw CliError.failed('demo', 'must run as root (it creates network namespaces)');

  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let stopping = false;
  const say = (line: string) => io.stdout(`${line}\n`);
  say('zmesh demo: building the simulated world (Ctrl-C tears it down)');
  // The harness installs its signal hooks when the world is created; take the first signal for
  // an orderly teardown (a second Ctrl-C gets the harness's immediate one).
  const withdraw = interceptNextSignal((signal) => {
    stopping = true;
    say(`\nzmesh demo: ${signal}: tearing down (Ctrl-C again to force)`);
    stop();
  });
  let mesh: FleetMesh | undefined;
  let failed = false;
  try {
    mesh = await buildFleetMesh({ log: (line) => say(`  ${line}`) });
    if (stopping) return;
    const graphFile = args.strings['graph'] ?? join(tmpdir(), `zmesh-demo-${mesh.world.prefix}.svg`);
    say(await drawGraph(mesh, graphFile));
    if (once) {
      // The matrix first: its pings make every pair handshake, so the table then shows them.
      const matrix = await matrixText(mesh);
      say('');
      say(await statusReport(mesh.world, [mesh.net]));
      const rollout = await rolloutText(mesh);
      say('');
      say(rollout.text);
      say('');
      say(matrix.text);
      const checks = [
        rollout.check,
        ...matrix.checks,
        ...(await egressChecks(mesh.world, mesh.workloads, (w) => w.node.publicAddress)),
        ...(await inboundChecks(mesh.world, mesh.workloads)),
      ];
      say('');
      say(formatChecks(checks));
      const bad = checks.filter((c) => !c.ok).length;
      say(`\n${checks.length - bad} of ${checks.length} checks passed`);
      failed = bad > 0;
    } else {
      while (!stopping) {
        const status = await statusReport(mesh.world, [mesh.net]);
        const rollout = await rolloutText(mesh);
        const matrix = await matrixText(mesh);
        const graph = await drawGraph(mesh, graphFile);
        if (stopping) break;
        io.stdout(
          `\x1b[2J\x1b[H${new Date().toISOString()}  zmesh demo, world ${mesh.world.prefix} (refresh every ${interval} s, Ctrl-C to stop)\n\n${status}\n\n${rollout.text}\n\n${matrix.text}\n\n${graph}\n`,
        );
        await Promise.race([stopped, new Promise((r) => setTimeout(r, interval * 1000).unref())]);
      }
    }
  } finally {
    if (mesh) {
      say('zmesh demo: tearing down (networks deleted through networkd, daemons stopped, namespaces removed)');
      await mesh.world.teardown();
      say('zmesh demo: torn down');
    }
    withdraw();
  }
  if (failed) throw CliError.failed('demo', 'some checks failed (see above)');
}

export const demoCommand: Command = {
  summary:
    'build a simulated 4-node world (2 public, 2 behind NAT), deploy a network, show live status; torn down at the end',
  options: {
    once: {
      type: 'boolean',
      description:
        'check once, print the table and the reachability matrix, tear down; exit 0 only if every check passed',
    },
    interval: {
      type: 'string',
      value: 'SECONDS',
      description: `refresh interval of the live view (default ${DEFAULT_INTERVAL_SECONDS})`,
    },
    graph: {
      type: 'string',
      value: 'FILE',
      description:
        "where the network's SVG picture goes, drawn at start and at every refresh (default $TMPDIR/zmesh-demo-<run prefix>.svg)",
    },
  },
  notes:
    'Runs as root; every namespace, process and file it makes carries a random run prefix and is removed at the end (scripts/test-cleanup removes what a killed run left), except the graph it draws (--graph).',
  run,
};
