/**
 * Leak probe (a tool, not part of CI): the soak's world (6 nodes, etcd store, alpha the
 * aggregator), then an idle phase and a churn phase — new revisions, key rotations (alpha's and
 * others'), service moves, workload attach/detach elsewhere, delta leaving and joining, each
 * waited for to converge, back to back — sampling alpha's networkd and wgd every 15 s: VmRSS, fds,
 * resident memory by kind of mapping ([heap]: the main malloc arena; anon>=1M: the other threads'
 * malloc arenas; anon<1M: mostly V8's 256 KiB heap pages) and networkd's process.memoryUsage()
 * after a full GC (over its inspector: SIGUSR1 opens it on 127.0.0.1:9229 in its namespace).
 *   npx tsx scripts/leak-probe.ts [--idle S] [--churn S]
 * SNAP=1: heap snapshots (SIGUSR2) at the phase boundaries into --dir. (Native allocations were
 * traced once with heaptrack on a restarted networkd; that mode is not kept: heaptrack is no
 * package the project installs.)
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
  const npid = alpha.networkd?.pid as number;
  const wpid = alpha.wgdPids()[0] as number;
  log(`world up; alpha networkd ${npid} wgd ${wpid}`);
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
  const t0 = Date.now();
  const mem = await inspect(npid);
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
  if (!deltaIn) await fleet.net('add-node', NET, ['--node-record', world.node('delta').recordFile]);
} finally {
  await world.teardown();
}
