/** `zmesh status`'s verdict and screen, from answers shaped like networkd's and provisiond's. */
import test from 'ava';
import { type NetworkStatus, judge, renderStatus } from '../../../src/cli/status-view.js';

const NOW = Date.parse('2026-12-07T02:00:00Z');
const KEY = 'x'.repeat(43) + '=';

function network(
  peers: NetworkStatus['device'] extends infer D ? (D extends { peers: infer P } ? P : never) : never,
  nrExists = true,
): NetworkStatus {
  return {
    network: 'blue',
    revision: 4,
    subnet: '10.2.1.0/24',
    role: { aggregator: true, exit: false },
    hidden: false,
    listenPort: 51820,
    nrExists,
    device: nrExists ? { peers } : null,
    workloads: [{ workload: 'web-1', ip: '10.2.1.2', netns: '/run/netns/web-1' }],
  };
}

function report(errors: string[], steps: number, ms: number) {
  return { steps, networks: 1, removedNrs: [], removedDevices: [], reattached: 0, forgotten: [], errors, ms };
}

const healthy = {
  networkd: {
    health: {
      node: 'alpha',
      pid: 100,
      wg: { backend: 'userspace' as const, wgdPid: 101 },
      lastReconcile: report([], 0, 3.2),
    },
    networks: [
      network([
        {
          node: 'bravo',
          publicKey: KEY,
          endpoint: '198.51.100.12:51820',
          lastHandshakeAgeSeconds: 42,
          rxBytes: 1_234_567,
          txBytes: 20_000_000,
        },
        { node: 'hid1', publicKey: KEY, endpoint: null, lastHandshakeAgeSeconds: null, rxBytes: 0, txBytes: 0 },
      ]),
    ],
  },
  provisiond: {
    pid: 200,
    tasks: { pending: 0, running: 0, succeeded: 12, failed: 1, cancelled: 0 },
    failed: [
      {
        id: 'old',
        type: 'network.apply',
        network: 'blue',
        finishedAt: '2026-12-06T10:00:00Z',
        error: { message: 'x' },
      },
    ],
    store: { connected: true, cursor: 42, revisions: [{ network: 'blue', published: 4, applied: 4 }] },
  },
};

test('a node whose peers handshook (or never needed to), with only old failures, is healthy; its screen fits 100 columns', (t) => {
  const problems = judge(healthy, NOW);
  t.deepEqual(problems, []);
  const screen = renderStatus({ ...healthy, problems });
  t.log(`\n${screen}`);
  for (const line of screen.split('\n')) t.true(line.length <= 100, line);
  t.true(screen.includes('node alpha: networkd pid 100 (userspace WireGuard, wgd pid 101)'));
  t.regex(screen, /bravo\s+198\.51\.100\.12:51820\s+42s\s+1\.2 MiB\s+19\.1 MiB/);
  t.regex(screen, /hid1\s+\(roaming\)\s+never/);
  t.regex(screen, /web-1\s+10\.2\.1\.2/);
  t.true(screen.includes('store: connected, cursor 42, 1 network(s), 0 behind'));
  t.true(screen.endsWith('health: OK\n'));
  t.true(screen.includes('network blue (rev 4)  10.2.1.0/24  aggregator  port 51820  NR up'));
});

test('a stale handshake, a missing NR, a reconcile error, a recent failed task, a lost store and a dead daemon are each named', (t) => {
  const sick = {
    networkd: {
      health: { ...healthy.networkd.health, lastReconcile: report(['red: EKERNEL: boom'], 1, 9) },
      networks: [
        network([
          {
            node: 'bravo',
            publicKey: KEY,
            endpoint: '198.51.100.12:51820',
            lastHandshakeAgeSeconds: 200,
            rxBytes: 0,
            txBytes: 0,
          },
        ]),
        { ...network([], false), network: 'red' },
      ],
    },
    provisiond: {
      ...healthy.provisiond,
      failed: [
        {
          id: 't9',
          type: 'network.apply',
          network: 'red',
          finishedAt: '2026-12-07T01:30:00Z',
          error: { message: 'EINVAL: bad' },
        },
      ],
      store: { connected: false, cursor: 42, revisions: [{ network: 'blue', published: 5, applied: 4 }] },
    },
  };
  const problems = judge(sick, NOW);
  t.deepEqual(problems, [
    'last reconcile: red: EKERNEL: boom',
    'network blue: no handshake with bravo for 3m20s',
    'network red: its network resource is missing',
    'task t9 (network.apply red) failed: EINVAL: bad',
    'store: not connected (the agent is waiting for it)',
  ]);
  const screen = renderStatus({ ...sick, problems });
  t.true(screen.includes('3m20s STALE'));
  t.true(screen.includes('NR DOWN'));
  t.true(screen.includes('blue: applied 4, published 5'));
  t.true(screen.includes('health: UNHEALTHY'));
  const down = { networkd: { error: 'GET /v1/health: no answer at /x: ENOENT' }, provisiond: null };
  t.deepEqual(judge(down, NOW), ['networkd: GET /v1/health: no answer at /x: ENOENT']);
  t.true(renderStatus({ ...down, problems: judge(down, NOW) }).startsWith('networkd: UNREACHABLE'));
});

test('a network relaying through its second aggregator shows which is current and makes the node unhealthy', (t) => {
  const failover = {
    aggregators: ['alpha', 'bravo'],
    current: 'bravo',
    up: { alpha: false, bravo: true },
    carriers: {},
    switches: [{ from: 'alpha', to: 'bravo', reason: 'down' as const, at: '2026-12-07T01:59:00.000Z' }],
  };
  const degraded = {
    ...healthy,
    networkd: { ...healthy.networkd, networks: [{ ...healthy.networkd.networks[0]!, failover }] },
  };
  const problems = judge(degraded, NOW);
  t.deepEqual(problems, ['network blue: aggregator alpha is down (relaying through bravo)']);
  const screen = renderStatus({ ...degraded, problems });
  t.regex(
    screen,
    /aggregators: alpha DOWN, bravo up \(current\); last switch alpha → bravo \(down\) at 2026-12-07T01:59:00.000Z/,
  );
});
