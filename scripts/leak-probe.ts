/**
 * Leak probe (a tool, not part of CI): the soak's world (6 nodes, etcd store, alpha the
 * aggregator), then an idle phase and a churn phase — new revisions, key rotations (alpha's and
 * others'), service moves, workload attach/detach elsewhere, delta leaving and joining, each
 * waited for to converge, back to back — sampling alpha's networkd and wgd every 15 s: VmRSS, fds,
 * resident memory by kind of mapping ([heap]: the main malloc arena; anon>=1M: the other threads'
 * malloc arenas; anon<1M: mostly V8's 256 KiB heap pages) and networkd's process.memoryUsage()
 * after a full GC (over its inspector: SIGUSR1 opens it on 127.0.0.1:9229 in its namespace).
 *   npx tsx scripts/leak-probe.ts [--idle S] [--churn S]
 * SNAP=1: heap snapshots (SIGUSR2) at the phase boundaries into --dir. HEAPTRACK=FILE (and
 * HEAPTRACK_WGD=FILE): alpha's networkd (and wgd) restarted under heaptrack (attaching to a
 * running one kills it); the inspector is then not used.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SimFleet, type FleetWorkload } from '../src/sim/fleet.js';
import { FOUR_PUBLIC_TWO_HIDDEN_NODES } from '../src/sim/mesh.js';
import { SimWorld } from '../src/sim/world.js';

const { values } = parseArgs({
  options: {
    idle: { type: 'string', default: '60' },
    churn: { type: 'string', default: '300' },
    dir: { type: 'string', default: '/tmp/leak-probe' },
  },
});
const dir = values.dir as string;
mkdirSync(dir, { recursive: true });
process.env['NODE_OPTIONS'] = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
const GC_MEMORY = fileURLToPath(new URL('leak-probe/gc-memory.mjs', import.meta.url));

/** A process's memoryUsage() after a full GC, over its inspector. */
async function inspect(pid: number): Promise<() => Promise<string>> {
  process.kill(pid, 'SIGUSR1');
  await new Promise((r) => setTimeout(r, 2_000));
  return async () =>
    execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '--experimental-websocket', GC_MEMORY], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
    }).trim();
}

/** Resident kB by kind of mapping (see the top comment). */
function smaps(pid: number): string {
  const kinds = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const kb = (Number.parseInt(m[2] as string, 16) - Number.parseInt(m[1] as string, 16)) / 1024;
      const name = (m[3] as string).trim();
      kind = name === '' ? (kb >= 1024 ? 'anon>=1M' : 'anon<1M') : name.startsWith('[') ? name : 'file';
    } else if (line.startsWith('Rss:')) kinds.set(kind, (kinds.get(kind) ?? 0) + Number(line.split(/\s+/)[1]));
  }
  const total = [...kinds.values()].reduce((a, b) => a + b, 0);
  return `${[...kinds]
    .filter(([, kb]) => kb > 200)
    .map(([k, kb]) => `${k}=${kb}`)
    .join(' ')} total ${total}`;
}
const log = (line: string): void => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
const NET = 'soak';
const world = await SimWorld.create(FOUR_PUBLIC_TWO_HIDDEN_NODES);
try {
  const fleet = await SimFleet.create(world);
  await fleet.startAgents();
  await fleet.net('create', NET, ['--ip-range', '10.77.0.0/16']);
  for (const n of world.nodes) await fleet.net('add-node', NET, ['--node-record', n.recordFile]);
  await fleet.net('set-aggregator', NET, ['--node', 'alpha']);
  await fleet.converged(NET, 120);
  const ring: FleetWorkload[] = [];
  for (const n of world.nodes) ring.push(await fleet.attachWorkload(n, NET));
  const serviceTool = (action: string, args: readonly string[]) =>
    fleet.tool(['net', 'service', action, NET, '--store', fleet.url, '--name', 'web', ...args]);
  let owner = ring.find((w) => w.node.id === 'bravo') as FleetWorkload;
  await serviceTool('add', ['--node', owner.node.id, '--workload', owner.id]);
  await fleet.converged(NET, 120);
  const alpha = world.node('alpha');
  let npid = alpha.networkd?.pid as number;
  let wpid = alpha.wgdPids()[0] as number;
  if (process.env['HEAPTRACK']) {
    // alpha's networkd again, under heaptrack from its start (attaching later kills it).
    const argv = readFileSync(`/proc/${npid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const env = Object.fromEntries(
      readFileSync(`/proc/${npid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    delete env['NODE_OPTIONS'];
    await alpha.killNetworkd('SIGTERM');
    const { spawn } = await import('node:child_process');
    const { openSync } = await import('node:fs');
    const netns = `/proc/${wpid}/ns/net`;
    const nsKeep = openSync(netns, 'r'); // the namespace stays reachable through /proc/self/fd
    const nsPath = `/proc/${process.pid}/fd/${nsKeep}`;
    if (process.env['HEAPTRACK_WGD']) {
      const wargv = readFileSync(`/proc/${wpid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      process.kill(wpid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 3_000));
      const wout = openSync('/tmp/leakhunt/ht-wgd.log', 'a');
      spawn('nsenter', [`--net=${nsPath}`, 'heaptrack', '-o', process.env['HEAPTRACK_WGD'], ...wargv], {
        env,
        stdio: ['ignore', wout, wout],
        detached: true,
      }).unref();
      await new Promise((r) => setTimeout(r, 8_000));
      wpid = Number(
        execFileSync('pgrep', ['-f', '-x', wargv.map((a) => a.replace(/[.+*?^$()[\]{}|\\]/g, '\\$&')).join(' ')], {
          encoding: 'utf8',
        })
          .trim()
          .split('\n')[0],
      );
      log(`wgd under heaptrack: pid ${wpid}`);
    }
    const out = openSync('/tmp/leakhunt/ht-networkd.log', 'a');
    spawn('nsenter', [`--net=${nsPath}`, 'heaptrack', '-o', process.env['HEAPTRACK'], ...argv], {
      env,
      stdio: ['ignore', out, out],
      detached: true,
    }).unref();
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 500));
      if (await alpha.api.healthy().catch(() => false)) break;
    }
    const found = execFileSync(
      'pgrep',
      ['-f', '-x', argv.map((a) => a.replace(/[.+*?^$()[\]{}|\\]/g, '\\$&')).join(' ')],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    npid = Number(found[0]);
    log(`networkd under heaptrack: pid ${found.join(',')}`);
  }
  log(`world up; alpha networkd ${npid} wgd ${wpid}`);
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
  const t0 = Date.now();
  const mem = process.env['HEAPTRACK'] ? async () => '-' : await inspect(npid);
  const sample = async (what: string) => {
    log(
      `t=${Math.round((Date.now() - t0) / 1000)}s ${what} networkd ${rss(npid)} kB ${fds(npid)} fds, wgd ${rss(wpid)} kB ${fds(wpid)} fds`,
    );
    log(`   networkd after gc ${await mem()} | ${smaps(npid)}`);
    log(`   wgd ${smaps(wpid)}`);
  };
  const snap = async (label: string) => {
    if (process.env['SNAP']) {
      process.kill(npid, 'SIGUSR2');
      process.kill(wpid, 'SIGUSR2');
      await new Promise((r) => setTimeout(r, 8_000));
    }
    await sample(`snapshot ${label}`);
  };
  await snap('start');
  const idleEnd = Date.now() + Number(values.idle) * 1000;
  while (Date.now() < idleEnd) {
    await new Promise((r) => setTimeout(r, 15_000));
    await sample('idle');
  }
  await snap('after-idle');
  const others = world.nodes.filter((n) => n.id !== 'alpha');
  let exitOn = false;
  let deltaIn = true;
  let i = 0;
  let ops = 0;
  const extras: { node: (typeof others)[number]; id: string }[] = [];
  const churnEnd = Date.now() + Number(values.churn) * 1000;
  let nextSample = Date.now() + 15_000;
  while (Date.now() < churnEnd) {
    const k = i++ % 6;
    try {
      if (k === 0) {
        exitOn = !exitOn;
        await fleet.net('set-exit', NET, exitOn ? ['--node', 'bravo'] : ['--none']);
      } else if (k === 1) {
        await fleet.net('rotate-key', NET, [
          '--node',
          (['bravo', 'charlie', 'hid1', 'hid2'] as const)[i % 4] as string,
        ]);
      } else if (k === 2) {
        const to = ring.filter((w) => w !== owner && w.node.id !== 'alpha' && w.node.id !== 'delta')[
          i % 3
        ] as FleetWorkload;
        await serviceTool('move', ['--node', to.node.id, '--workload', to.id]);
        owner = to;
      } else if (k === 4) {
        await fleet.net('rotate-key', NET, ['--node', 'alpha']);
      } else if (k === 5) {
        const delta = world.node('delta');
        if (deltaIn) await fleet.net('remove-node', NET, ['--node', 'delta']);
        else await fleet.net('add-node', NET, ['--node-record', delta.recordFile]);
        deltaIn = !deltaIn;
      } else {
        const node = world.node((['bravo', 'charlie', 'hid1'] as const)[i % 3] as string);
        if (extras.length > 2) {
          const e = extras.shift() as (typeof extras)[number];
          await e.node.api.detach(NET, e.id);
        } else {
          const w = await fleet.attachWorkload(node, NET);
          extras.push({ node, id: w.id });
        }
      }
      await fleet.converged(NET, 120);
      ops++;
    } catch (e) {
      log(`op ${k} failed: ${(e as Error).message.slice(0, 200)}`);
    }
    if (Date.now() >= nextSample) {
      await sample(`churn (${ops} ops)`);
      nextSample += 15_000;
    }
  }
  await snap(`after-churn (${ops} ops)`);
  if (process.env['HEAPTRACK']) {
    process.kill(npid, 'SIGTERM');
    if (process.env['HEAPTRACK_WGD']) process.kill(wpid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 5_000));
  }
  if (!deltaIn) await fleet.net('add-node', NET, ['--node-record', world.node('delta').recordFile]);
} finally {
  await world.teardown();
}
