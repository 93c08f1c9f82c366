// The management plane out of the workloads' reach, on the fleet world (4 nodes, etcd, provisiond
// as the store agent beside networkd, a workload per NR).
//
// What the sim can and cannot prove. The sim's namespaces share this machine's mount namespace,
// so a workload's process here can see networkd's and provisiond's socket files; on a real node a
// workload has its own mount namespace (a container) and the files are simply not there. What
// the sim shows is the second wall, the one that holds even when the file is visible: every
// listening UNIX socket a zmesh process holds is root-only, and a process running as an
// unprivileged user — in the host namespace, in a workload's, in an NR's — gets EACCES.
//
// Where the store lives on a real node (README "Where the store lives"): either on a node's host
// namespace (a member co-located with networkd, listening on the node's address) or on a private
// management network the hosts reach (RFC 1918). Both shapes are built here with listeners on
// etcd's client and peer ports (a TCP port is reachable or not whatever answers on it) and must
// be unreachable from the workload and the NR, while the node itself (or the Internet, for the
// node's public address) reaches them — the control that shows the filters, not a dead listener,
// are what stops the workload. The sim's own etcd cluster sits on the simulated Internet without
// TLS, for convenience: a workload reaches it like any Internet host would. That is not a
// production shape (README), and nothing here claims otherwise.
//
// Metrics endpoints, in the two shapes an operator configures: networkd on every address of the
// host (`--metrics 0.0.0.0:P`, scraped from the management side or the Internet) and provisiond
// on the host's loopback only (`--metrics 127.0.0.1:P`, a local scraper). Each is reached from
// where it is configured and from nowhere a workload or an NR is.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { netIdOf } from '../../src/netdef/netid.js';
import { nrNamespaceName, type Prefix } from '../../src/nr/names.js';
import { buildFleetMesh, ETCD_CLIENT_PORT, ETCD_PEER_PORT, type FleetMesh } from '../../src/sim/fleet.js';
import type { SimNode } from '../../src/sim/node.js';
import { runCommand, systemTool, type BackgroundProcess, type Namespace } from '../harness/index.js';

const NOBODY = '65534';
/** Test-only ports, away from Prometheus's 9464 and in namespaces this test owns. */
const NETWORKD_METRICS_PORT = 19464;
const PROVISIOND_METRICS_PORT = 19465;
let mesh: FleetMesh;

test.before(async () => {
  mesh = await buildFleetMesh({
    networkName: 'iso',
    ipRange: '10.61.0.0/16',
    networkdArgs: ['--wg', 'userspace', '--metrics', `0.0.0.0:${NETWORKD_METRICS_PORT}`],
    agentArgs: ['--metrics', `127.0.0.1:${PROVISIOND_METRICS_PORT}`],
  });
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(`${mesh?.world.diagnostics()}\n${mesh?.fleet.diagnostics()}`);
});

test.after.always(async () => {
  await mesh?.world.teardown();
});

/** One connection attempt from inside a network namespace (as `uid`, or root): what happened. */
async function connectFrom(
  netnsPath: string,
  target: { path: string } | { host: string; port: number },
  uid?: string,
): Promise<string> {
  const script = [
    "const net = require('node:net');",
    'const [kind, a, b] = process.argv.slice(1);',
    "const s = kind === 'unix' ? net.connect({ path: a }) : net.connect({ host: a, port: Number(b) });",
    "const timer = setTimeout(() => { console.log('timeout'); process.exit(0); }, 2500);",
    "s.on('connect', () => { console.log('connected'); process.exit(0); });",
    "s.on('error', (e) => { console.log(e.code); process.exit(0); });",
  ].join('\n');
  const who = uid === undefined ? [] : [`--setuid=${uid}`, `--setgid=${uid}`];
  const where = 'path' in target ? ['unix', target.path] : ['tcp', target.host, String(target.port)];
  const r = await runCommand(
    systemTool('nsenter'),
    [`--net=${netnsPath}`, '--wd=/', ...who, '--', systemTool('node'), '-e', script, ...where],
    {
      timeoutMs: 15_000,
    },
  );
  return r.stdout.trim();
}

/** A TCP listener in `ns` on each address × port, standing in for an etcd member. */
async function listen(ns: Namespace, hosts: readonly string[], ports: readonly number[]): Promise<BackgroundProcess> {
  const script = [
    "const net = require('node:net');",
    'const hosts = process.argv[1].split(","), ports = process.argv[2].split(",").map(Number);',
    'let left = hosts.length * ports.length;',
    'for (const host of hosts) for (const port of ports) net.createServer((c) => c.end()).listen(port, host, () => { if (--left === 0) console.log("ready"); });',
  ].join('\n');
  const proc = ns.spawn('node', ['-e', script, hosts.join(','), ports.join(',')]);
  await proc.waitForOutput(/ready/, { timeoutMs: 15_000 });
  return proc;
}

const nrPath = (node: SimNode): string =>
  `/run/netns/${nrNamespaceName(node.prefix as Prefix, netIdOf(mesh.net.name) as never)}`;
const workloadOf = (node: SimNode) => {
  const w = mesh.workloads.find((x) => x.node === node);
  if (!w) throw new Error(`no workload on ${node.id}`);
  return w;
};

/**
 * The names the processes' listening UNIX sockets were bound to (/proc/PID/net/unix). zmesh binds
 * under a temporary name and links the socket to its final path (socket-file.ts), so the bound
 * name is gone; the socket files of those directories are the sockets (one file per bound name).
 */
function listeningUnixSockets(pids: readonly number[]): string[] {
  const out = new Set<string>();
  for (const pid of pids) {
    let inodes: Set<string>;
    let table: string;
    try {
      inodes = new Set(
        readdirSync(`/proc/${pid}/fd`)
          .map((fd) => /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`))?.[1] ?? '')
          .filter(Boolean),
      );
      table = readFileSync(`/proc/${pid}/net/unix`, 'utf8');
    } catch {
      continue; // the process ended meanwhile
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // Num RefCount Protocol Flags Type St Inode Path; flag 0x10000: listening (__SO_ACCEPTCON).
      if (!inodes.has(f[6] ?? '') || (Number.parseInt(f[3] ?? '0', 16) & 0x10000) === 0) continue;
      out.add(f[7] ?? '(unnamed)');
    }
  }
  return [...out];
}

/** The socket files of a directory. */
function socketFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isSocket())
    .map((e) => join(dir, e.name));
}

function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

/** networkd, wgd, provisiond (the agent) of a node: every zmesh process it runs. */
function zmeshPids(node: SimNode): number[] {
  const agent = mesh.fleet.agents.get(node.id);
  return [...new Set([...node.processes(), ...(agent?.running ? [agent.pid] : [])])];
}

test.serial(
  'every listening UNIX socket of networkd, wgd and provisiond is root-only: nobody gets EACCES from the host, a workload and an NR',
  async (t) => {
    for (const node of [mesh.world.node('alpha'), mesh.world.node('hid1')]) {
      const bound = listeningUnixSockets(zmeshPids(node));
      t.true(bound.length >= 4, `${node.id}: networkd, provisiond, wgd and a UAPI socket listen (${bound.join(', ')})`);
      for (const name of bound)
        t.false(
          name.startsWith('@') || name === '(unnamed)',
          `${name}: abstract or unnamed sockets are reachable by anyone in the namespace`,
        );
      const dirs = [...new Set(bound.map((b) => dirname(b)))];
      const paths = dirs.flatMap(socketFiles);
      t.is(paths.length, bound.length, `${node.id}: one socket file per listening socket (${paths.join(', ')})`);
      t.log(`${node.id}: ${paths.map((p) => p.replace(node.stateDir, '$STATE')).join(' ')}`);
      t.true(paths.includes(node.socketPath), `${node.id}: networkd's socket is among them`);
      t.true(paths.includes(join(node.stateDir, 'provisiond.sock')), `${node.id}: provisiond's socket is among them`);
      for (const path of paths) {
        const st = statSync(path);
        t.is(st.mode & 0o077, 0, `${path}: mode ${(st.mode & 0o777).toString(8)} gives group/other access`);
        t.is(st.uid, 0, `${path}: owned by root`);
        // Control: root in the host namespace is served (the socket is alive, the probe works).
        t.is(await connectFrom(node.host.path, { path }), 'connected', `root connects to ${path}`);
        for (const [where, ns] of [
          ['host', node.host.path],
          ['workload', workloadOf(node).ns.path],
          ['NR', nrPath(node)],
        ] as const) {
          t.is(
            await connectFrom(ns, { path }, NOBODY),
            'EACCES',
            `nobody in the ${where} namespace connecting to ${path}`,
          );
        }
      }
    }
  },
);

/** What may be readable by others under a state dir, and why. */
const PUBLIC_ENTRIES: Record<string, string> = {
  'node.json': 'the public node record `zmesh node init` prints (id, identity public key, endpoints)',
  'networkd/wireguard': 'the UAPI socket directory, 0755 as wg(8) and wg-quick expect; its sockets are root-only',
};

test.serial('key files are 0600 and state directories 0700 under every node state dir', async (t) => {
  for (const node of mesh.world.nodes) {
    const problems: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        const mode = statSync(p).mode & 0o777;
        const rel = p.slice(node.stateDir.length + 1);
        if ((entry.isDirectory() || entry.isFile()) && mode & 0o077 && !(rel in PUBLIC_ENTRIES))
          problems.push(`${rel}: ${mode.toString(8)}`);
        if (entry.isDirectory()) walk(p);
      }
    };
    t.is(statSync(node.stateDir).mode & 0o777, 0o700, `${node.id}: the state dir`);
    walk(node.stateDir);
    t.deepEqual(problems, [], `${node.id}: files and directories open to group/other`);
    t.is(statSync(node.identityKeyFile).mode & 0o777, 0o600, `${node.id}: identity key`);
    for (const rel of Object.keys(PUBLIC_ENTRIES))
      t.true(existsSync(join(node.stateDir, rel)), `${node.id}: ${rel} exists (the exception is real)`);
  }
});

test.serial(
  'a store member on the node itself (its public and its ndmz-side address) is unreachable from the workload and the NR',
  async (t) => {
    const node = mesh.world.node('alpha');
    const hosts = [node.uplinkAddress, '100.126.0.1'];
    const member = await listen(node.host, hosts, [ETCD_CLIENT_PORT, ETCD_PEER_PORT]);
    try {
      for (const port of [ETCD_CLIENT_PORT, ETCD_PEER_PORT]) {
        // Controls: the node reaches its own member; so does the Internet, on the public address.
        t.is(await connectFrom(node.host.path, { host: node.uplinkAddress, port }), 'connected');
        t.is(
          await connectFrom(mesh.fleet.admin.path, { host: node.uplinkAddress, port }),
          'connected',
          'the Internet reaches the public address',
        );
        for (const host of hosts) {
          for (const [where, ns] of [
            ['workload', workloadOf(node).ns.path],
            ['NR', nrPath(node)],
          ] as const) {
            const got = await connectFrom(ns, { host, port });
            t.not(got, 'connected', `the ${where} on ${node.id} reached ${host}:${port}`);
          }
        }
      }
    } finally {
      await member.stop({ graceMs: 1_000 });
    }
  },
);

test.serial(
  'a store on a private management network the hosts reach is unreachable from workloads and NRs',
  async (t) => {
    const mgmt = await mesh.world.harness.namespace('mgm');
    const nodes = [mesh.world.node('alpha'), mesh.world.node('hid1')];
    // One /30 per node: host side 192.168.250.(4i+1), the management side .(4i+2), the member on .254 (lo).
    for (const [i, node] of nodes.entries()) {
      await mesh.world.harness.link(node.host, 'mgmt0', mgmt, `m${i}`, {
        addressA: `192.168.250.${4 * i + 1}/30`,
        addressB: `192.168.250.${4 * i + 2}/30`,
      });
      await node.host.addRoute('192.168.250.254/32', { via: `192.168.250.${4 * i + 2}` });
    }
    await mgmt.addAddress('lo', '192.168.250.254/32');
    const member = await listen(mgmt, ['192.168.250.254'], [ETCD_CLIENT_PORT, ETCD_PEER_PORT]);
    try {
      for (const node of nodes) {
        for (const port of [ETCD_CLIENT_PORT, ETCD_PEER_PORT]) {
          t.is(
            await connectFrom(node.host.path, { host: '192.168.250.254', port }),
            'connected',
            `${node.id}'s host reaches the store`,
          );
          for (const [where, ns] of [
            ['workload', workloadOf(node).ns.path],
            ['NR', nrPath(node)],
          ] as const) {
            t.not(
              await connectFrom(ns, { host: '192.168.250.254', port }),
              'connected',
              `the ${where} on ${node.id} reached the store`,
            );
          }
        }
      }
    } finally {
      await member.stop({ graceMs: 1_000 });
    }
  },
);

/** Every IPv4 address of a namespace, loopback included (`--metrics 0.0.0.0:P` listens on each). */
async function addressesOf(ns: Namespace): Promise<string[]> {
  const links = JSON.parse((await ns.ip(['-j', '-4', 'addr', 'show'])).stdout) as {
    addr_info: { local: string }[];
  }[];
  return links.flatMap((l) => l.addr_info.map((a) => a.local));
}

/** An HTTP GET of /metrics from inside a namespace: the status, or what stopped the connection. */
async function scrapeFrom(netnsPath: string, host: string, port: number): Promise<string> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
  const script = [
    'const http = require("node:http");',
    'const req = http.get(process.argv[1], { timeout: 2500 }, (res) => {',
    '  let n = 0; res.on("data", (d) => { n += d.length; });',
    '  res.on("end", () => { console.log(res.statusCode === 200 && n > 0 ? "200" : "status " + res.statusCode); });',
    '});',
    'req.on("timeout", () => { console.log("timeout"); req.destroy(); process.exit(0); });',
    'req.on("error", (e) => { console.log(e.code); process.exit(0); });',
  ].join('\n');
  const r = await runCommand(
    systemTool('nsenter'),
    [`--net=${netnsPath}`, '--wd=/', '--', systemTool('node'), '-e', script, url],
    { timeoutMs: 15_000 },
  );
  return r.stdout.trim();
}

test.serial(
  "metrics endpoints answer where they are configured (networkd: the host's addresses; provisiond: its loopback) and never a workload or an NR",
  async (t) => {
    const alpha = mesh.world.node('alpha');
    // Controls: the configured places are served, so a refusal below is the filters, not a dead listener.
    t.is(
      await scrapeFrom(mesh.fleet.admin.path, alpha.uplinkAddress, NETWORKD_METRICS_PORT),
      '200',
      "the Internet scrapes alpha's networkd on its public address",
    );
    t.not(
      await scrapeFrom(mesh.fleet.admin.path, alpha.uplinkAddress, PROVISIOND_METRICS_PORT),
      '200',
      "provisiond's loopback endpoint is not on the public address",
    );
    for (const node of [alpha, mesh.world.node('hid1')]) {
      const hostAddresses = await addressesOf(node.host);
      t.true(hostAddresses.includes(node.uplinkAddress), `${node.id}: ${hostAddresses.join(' ')}`);
      for (const host of hostAddresses)
        t.is(
          await scrapeFrom(node.host.path, host, NETWORKD_METRICS_PORT),
          '200',
          `${node.id}'s host scrapes its networkd on ${host}`,
        );
      t.is(
        await scrapeFrom(node.host.path, '127.0.0.1', PROVISIOND_METRICS_PORT),
        '200',
        `${node.id}'s host scrapes its provisiond on 127.0.0.1`,
      );
      // Every address the host has, and the workload's and NR's own loopback (the endpoint is not there).
      const targets = [...new Set([...hostAddresses, '127.0.0.1'])];
      for (const [where, ns] of [
        ['workload', workloadOf(node).ns.path],
        ['NR', nrPath(node)],
      ] as const) {
        // All at once: each refusal is a 2.5 s timeout (the filters drop, they do not reject).
        const probes = targets.flatMap((host) =>
          [NETWORKD_METRICS_PORT, PROVISIOND_METRICS_PORT].map(async (port) => ({
            host,
            port,
            got: await scrapeFrom(ns, host, port),
          })),
        );
        for (const { host, port, got } of await Promise.all(probes)) {
          t.not(got, '200', `the ${where} on ${node.id} scraped ${host}:${port}`);
          t.false(got.startsWith('status'), `the ${where} on ${node.id} got an HTTP answer from ${host}:${port}`);
        }
      }
    }
  },
);
