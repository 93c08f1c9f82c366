/**
 * zmesh-cni's pure core: every verb driven by parsed invocations and networkd's possible answers,
 * the calls it asks for in order, and the one document (or none) it prints with its exit code.
 */
import test from 'ava';
import { type Answer, type Call, type Step, start, workloadIdOf } from '../../../src/cni/core.js';
import { parseInvocation } from '../../../src/cni/invocation.js';
import { SUPPORTED_VERSIONS } from '../../../src/cni/spec.js';

const SOCKET = '/run/test/networkd.sock';
const containerId = 'c0ffee0123456789';
const env = (command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: containerId,
  CNI_NETNS: '/run/netns/wl1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  ...extra,
});
const config = (cniVersion: string, extra: object = {}) =>
  JSON.stringify({ cniVersion, name: 'zm', type: 'zmesh-cni', network: 'blue', socket: SOCKET, ...extra });

const attached = {
  workload: 'x',
  ip: '10.77.0.2',
  prefix: 24,
  gateway: '10.77.0.1',
  routes: [{ destination: '0.0.0.0/0', via: '10.77.0.1' }],
  mtu: 1420,
  ifname: 'eth0',
  netns: '/run/netns/wl1',
  mac: '02:00:00:00:00:01',
};
const ok = (body: unknown): Answer => ({ kind: 'http', status: 200, body });
const iface: Answer = {
  kind: 'interface',
  state: { mac: '02:00:00:00:00:01', mtu: 1420, addresses: ['10.77.0.2/24'] },
};

/** Runs the core with the parsed invocation, answering each call with `answer`; the calls made and the end. */
function drive(envVars: Record<string, string>, stdin: string, answer: (call: Call) => Answer) {
  const parsed = parseInvocation(envVars, stdin);
  if (!parsed.ok) throw new Error(`did not parse: ${parsed.error.msg}`);
  const calls: Call[] = [];
  let step: Step = start(parsed.invocation);
  while (step.kind === 'call') {
    calls.push(step.call);
    step = step.next(answer(step.call));
  }
  return { calls, exitCode: step.exitCode, out: step.stdout === '' ? null : JSON.parse(step.stdout) };
}

test('VERSION answers the supported versions in the config version, without a call', (t) => {
  const r = drive({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}', () => t.fail() as never);
  t.deepEqual(r.out, { cniVersion: '0.4.0', supportedVersions: [...SUPPORTED_VERSIONS] });
  t.deepEqual(r.out.supportedVersions, ['0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  t.is(drive({ CNI_COMMAND: 'VERSION' }, '', () => t.fail() as never).out.cniVersion, '1.1.0');
});

for (const version of SUPPORTED_VERSIONS) {
  test(`ADD in ${version}: one attach owned by CNI, result (with networkd's MAC) in ${version}`, (t) => {
    const r = drive(env('ADD'), config(version, { dns: { nameservers: ['10.77.0.1'] } }), (call) =>
      call.kind === 'attach' ? ok(attached) : iface,
    );
    t.is(r.exitCode, 0);
    t.deepEqual(r.calls[0], {
      kind: 'attach',
      socket: SOCKET,
      network: 'blue',
      body: {
        workload: workloadIdOf({ containerId, ifname: 'eth0' }),
        netns: '/run/netns/wl1',
        ifname: 'eth0',
        owner: 'cni',
        containerId,
      },
    });
    t.is(r.calls.length, 1);
    const legacy = version === '0.3.1' || version === '0.4.0';
    t.deepEqual(r.out, {
      cniVersion: version,
      interfaces: [
        {
          name: 'eth0',
          mac: '02:00:00:00:00:01',
          ...(version === '1.1.0' ? { mtu: 1420 } : {}),
          sandbox: '/run/netns/wl1',
        },
      ],
      ips: [{ ...(legacy ? { version: '4' } : {}), address: '10.77.0.2/24', gateway: '10.77.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.77.0.1' }],
      dns: { nameservers: ['10.77.0.1'] },
    });
  });
}

test('ADD asks networkd for the static address of runtimeConfig.ips, args.cni.ips or CNI_ARGS IP, in that order', (t) => {
  const ipOf = (e: Record<string, string>, extra: object) => {
    const r = drive(e, config('1.0.0', extra), (call) => (call.kind === 'attach' ? ok(attached) : iface));
    return (r.calls[0] as Extract<Call, { kind: 'attach' }>).body.ip;
  };
  t.is(ipOf(env('ADD', { CNI_ARGS: 'IgnoreUnknown=1;IP=10.77.0.9;K8S_POD_NAME=p' }), {}), '10.77.0.9');
  t.is(ipOf(env('ADD', { CNI_ARGS: 'IP=10.77.0.9' }), { args: { cni: { ips: ['10.77.0.8'] } } }), '10.77.0.8');
  t.is(
    ipOf(env('ADD', { CNI_ARGS: 'IP=10.77.0.9' }), {
      runtimeConfig: { ips: ['10.77.0.7/24'] },
      args: { cni: { ips: ['10.77.0.8'] } },
    }),
    '10.77.0.7',
  );
  t.is(ipOf(env('ADD'), {}), undefined);
});

const addFailures: Array<[string, Answer, number, RegExp]> = [
  [
    'networkd not answering',
    { kind: 'unreachable', message: 'ECONNREFUSED' },
    11,
    /networkd is not answering at \/run\/test\/networkd.sock/,
  ],
  [
    'networkd busy (503)',
    { kind: 'http', status: 503, body: { error: { code: 'EUNAVAILABLE', message: 'stopping' } } },
    11,
    /could not do it now: stopping/,
  ],
  [
    'an unknown network',
    {
      kind: 'http',
      status: 404,
      body: { error: { code: 'ENOENT', message: 'network "blue" is not applied on this node' } },
    },
    7,
    /network: network "blue" is not applied/,
  ],
  [
    'a static IP outside the subnet',
    { kind: 'http', status: 400, body: { error: { code: 'EINVAL', field: 'ip', message: 'ip: 10.9.0.1 is outside' } } },
    7,
    /static IP refused by networkd: ip: 10.9.0.1 is outside/,
  ],
  [
    'a missing namespace',
    {
      kind: 'http',
      status: 400,
      body: { error: { code: 'EINVAL', field: 'netns', message: 'netns: /run/netns/wl1 does not exist' } },
    },
    4,
    /CNI_NETNS refused/,
  ],
  [
    'a second ADD',
    {
      kind: 'http',
      status: 409,
      body: { error: { code: 'ECONFLICT', field: 'workload', message: 'workload: already attached' } },
    },
    101,
    /already attached/,
  ],
  ['an answer without the fields', ok({ nope: 1 }), 103, /without ip, prefix/],
];
for (const [what, answer, code, message] of addFailures) {
  test(`ADD with ${what}: error ${code} naming it, in the config's version`, (t) => {
    const r = drive(env('ADD'), config('0.4.0'), () => answer);
    t.is(r.exitCode, 1);
    t.is(r.out.code, code);
    t.is(r.out.cniVersion, '0.4.0');
    t.regex(r.out.msg, message);
    t.is(r.calls.length, 1, 'nothing is done after the refusal');
  });
}

test('DEL: released, already gone (404) and network gone are all success with no output', (t) => {
  for (const answer of [
    ok({ detached: true }),
    { kind: 'http', status: 404, body: { error: { code: 'ENOENT', message: 'not attached' } } } as Answer,
  ]) {
    const r = drive(env('DEL', { CNI_NETNS: '' }), config('1.0.0'), () => answer);
    t.is(r.exitCode, 0);
    t.is(r.out, null);
    t.deepEqual(r.calls, [
      { kind: 'detach', socket: SOCKET, network: 'blue', workload: workloadIdOf({ containerId, ifname: 'eth0' }) },
    ]);
  }
});

test('DEL with networkd down hands the release to its spool; a full spool is error 11', (t) => {
  const down: Answer = { kind: 'unreachable', message: 'ENOENT' };
  const spooled = drive(env('DEL'), config('1.0.0'), (call) =>
    call.kind === 'detach' ? down : { kind: 'spool', outcome: 'spooled' },
  );
  t.is(spooled.exitCode, 0);
  t.is(spooled.calls[1]?.kind, 'spool-release');
  const full = drive(env('DEL'), config('1.0.0'), (call) =>
    call.kind === 'detach' ? down : { kind: 'spool', outcome: 'full' },
  );
  t.is(full.exitCode, 1);
  t.is(full.out.code, 11);
  t.regex(full.out.msg, /spool is full/);
});

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/run/netns/wl1' }],
  ips: [{ address: '10.77.0.2/24', interface: 0 }],
};
const view = (workloads: object[]) => ok({ workloads });
const record = {
  workload: workloadIdOf({ containerId, ifname: 'eth0' }),
  ip: '10.77.0.2',
  netns: '/run/netns/wl1',
  ifname: 'eth0',
};

test('CHECK passes when networkd and the namespace match prevResult, and names each drift', (t) => {
  const cases: Array<[Answer, Answer, number, RegExp | null]> = [
    [view([record]), iface, 0, null],
    [view([]), iface, 102, /networkd has no attachment of container c0ffee0123456789/],
    [view([{ ...record, ip: '10.77.0.3' }]), iface, 102, /networkd holds 10.77.0.3\/24, prevResult says 10.77.0.2\/24/],
    [view([record]), { kind: 'interface', state: null }, 102, /no interface eth0/],
    [
      view([record]),
      { kind: 'interface', state: { mac: null, mtu: 1420, addresses: ['10.77.0.5/24'] } },
      102,
      /eth0 has 10.77.0.5\/24, not 10.77.0.2\/24/,
    ],
  ];
  for (const [networkAnswer, ifaceAnswer, code, message] of cases) {
    const r = drive(env('CHECK'), config('1.0.0', { prevResult }), (call) =>
      call.kind === 'get-network' ? networkAnswer : ifaceAnswer,
    );
    t.is(r.out?.code ?? 0, code);
    if (message) t.regex(r.out.msg, message);
  }
  const noPrev = drive(env('CHECK'), config('1.0.0'), () => t.fail() as never);
  t.is(noPrev.out.code, 7);
  t.regex(noPrev.out.msg, /prevResult/);
});

test('STATUS: 50 when networkd or the NR is not there, 51 with peers and no handshake, 0 otherwise', (t) => {
  const peers = (ages: Array<number | null>) =>
    ok({ nrExists: true, device: { peers: ages.map((a) => ({ lastHandshakeAgeSeconds: a })) } });
  const cases: Array<[Answer, number]> = [
    [{ kind: 'unreachable', message: 'ECONNREFUSED' }, 50],
    [{ kind: 'http', status: 404, body: { error: { code: 'ENOENT', message: 'no network' } } }, 50],
    [ok({ nrExists: false, device: null }), 50],
    [peers([null, null]), 51],
    [peers([null, 12]), 0],
    [peers([]), 0],
  ];
  for (const [answer, code] of cases) {
    const r = drive({ CNI_COMMAND: 'STATUS' }, config('1.1.0'), () => answer);
    t.is(r.out?.code ?? 0, code, JSON.stringify(answer));
    t.is(r.exitCode, code === 0 ? 0 : 1);
  }
});

test('GC keeps the attachments named by either key, and collects every release error', (t) => {
  const keep = [
    { containerID: 'a1', ifname: 'eth0' },
    { containerID: 'b2', ifname: 'eth1' },
  ];
  for (const field of ['cni.dev/valid-attachments', 'cni.dev/attachments']) {
    const r = drive({ CNI_COMMAND: 'GC' }, config('1.1.0', { [field]: keep }), () =>
      ok({ released: ['x'], kept: 2, errors: [] }),
    );
    t.is(r.exitCode, 0);
    t.deepEqual(r.calls, [
      {
        kind: 'gc',
        socket: SOCKET,
        network: 'blue',
        keep: [
          workloadIdOf({ containerId: 'a1', ifname: 'eth0' }),
          workloadIdOf({ containerId: 'b2', ifname: 'eth1' }),
        ],
      },
    ]);
  }
  const failed = drive({ CNI_COMMAND: 'GC' }, config('1.1.0'), () =>
    ok({
      released: [],
      kept: 0,
      errors: [
        { workload: 'w1', message: 'm1' },
        { workload: 'w2', message: 'm2' },
      ],
    }),
  );
  t.is(failed.out.code, 100);
  t.regex(failed.out.msg, /2 release\(s\) failed/);
  t.is(failed.out.details, 'w1: m1; w2: m2');
});

test('null and non-list entries in networkd answers are answers, not exceptions (found by test/unit/fuzz/cni-input)', (t) => {
  // Each once threw a TypeError inside the core, which runCni turned into code 104 (INTERNAL).
  const check = drive(env('CHECK'), config('1.0.0', { prevResult }), (call) =>
    call.kind === 'get-network' ? view([null as never, record]) : iface,
  );
  t.is(check.exitCode, 0, 'a null entry is skipped and the real record still matches');
  const status = drive({ CNI_COMMAND: 'STATUS' }, config('1.1.0'), () =>
    ok({ nrExists: true, device: { peers: [null, { lastHandshakeAgeSeconds: 3 }] } }),
  );
  t.is(status.exitCode, 0);
  const gcNotList = drive({ CNI_COMMAND: 'GC' }, config('1.1.0'), () => ok({ released: [], errors: false }));
  t.is(gcNotList.out.code, 103, 'errors that are not a list: a bad answer');
  const gcNull = drive({ CNI_COMMAND: 'GC' }, config('1.1.0'), () => ok({ released: [], errors: [null] }));
  t.is(gcNull.out.code, 100);
  t.is(gcNull.out.details, 'undefined: undefined');
  const add = drive(env('ADD'), config('1.0.0'), () => ok({ ...attached, routes: [null, ...attached.routes] }));
  t.is(add.exitCode, 0, 'a null route is skipped');
  t.deepEqual(
    add.out.routes.map((r: { dst: string }) => r.dst),
    ['0.0.0.0/0'],
  );
});

test('a workload id is stable per container and ifname and distinct across them', (t) => {
  const a = workloadIdOf({ containerId: 'c1', ifname: 'eth0' });
  t.is(a, workloadIdOf({ containerId: 'c1', ifname: 'eth0' }));
  t.not(a, workloadIdOf({ containerId: 'c1', ifname: 'eth1' }));
  t.not(a, workloadIdOf({ containerId: 'c2', ifname: 'eth0' }));
  t.regex(a, /^cni-[0-9a-f]{32}$/);
});
