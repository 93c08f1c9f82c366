/**
 * zmesh-cni's edge: the runtime's environment and stdin become an invocation, or the spec's
 * error naming the variable or field — and then no call is made at all (runCni never reaches
 * networkd: the socket here does not exist, and a call would be an 11, not these codes).
 */
import test from 'ava';
import { NETWORK_NAME, parseInvocation } from '../../../src/cni/invocation.js';
import { NETWORK_NAME_PATTERN } from '../../../src/netdef/index.js';
import { runCni } from '../../../src/cni/run.js';

const base = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' };
const config = (extra: object = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'zm',
    type: 'zmesh-cni',
    network: 'blue',
    socket: '/nonexistent/zmesh-cni-test.sock',
    ...extra,
  });

const bad: Array<[string, Record<string, string | undefined>, string, number, RegExp]> = [
  ['no CNI_COMMAND', { ...base, CNI_COMMAND: undefined }, config(), 4, /CNI_COMMAND is not set/],
  ['an unknown CNI_COMMAND', { ...base, CNI_COMMAND: 'FLY' }, config(), 4, /CNI_COMMAND "FLY" is not one of ADD, DEL/],
  ['ADD without CNI_CONTAINERID', { ...base, CNI_CONTAINERID: undefined }, config(), 4, /CNI_CONTAINERID is not set/],
  [
    'a container id with a slash',
    { ...base, CNI_CONTAINERID: 'a/b' },
    config(),
    4,
    /CNI_CONTAINERID "a\/b" has characters/,
  ],
  ['ADD without CNI_NETNS', { ...base, CNI_NETNS: undefined }, config(), 4, /CNI_NETNS is not set/],
  [
    'a relative CNI_NETNS',
    { ...base, CNI_NETNS: 'run/netns/x' },
    config(),
    4,
    /CNI_NETNS "run\/netns\/x" is not a normalised absolute path/,
  ],
  [
    'CHECK without CNI_IFNAME',
    { ...base, CNI_COMMAND: 'CHECK', CNI_IFNAME: undefined },
    config(),
    4,
    /CNI_IFNAME is not set/,
  ],
  [
    'an ifname of 16 bytes',
    { ...base, CNI_IFNAME: 'e'.repeat(16) },
    config(),
    4,
    /CNI_IFNAME "e{16}" is not an interface name/,
  ],
  ['an unknown CNI_ARGS key', { ...base, CNI_ARGS: 'FOO=1' }, config(), 4, /CNI_ARGS: unknown key "FOO"/],
  ['a CNI_ARGS pair without =', { ...base, CNI_ARGS: 'IP' }, config(), 4, /CNI_ARGS: "IP" is not KEY=VALUE/],
  ['stdin that is not JSON', base, '{"cniVersion":', 6, /not JSON/],
  ['stdin that is an array', base, '[]', 6, /not a JSON object/],
  ['an unsupported cniVersion', base, config({ cniVersion: '0.2.0' }), 1, /cniVersion "0.2.0" is not supported/],
  ['no network', base, JSON.stringify({ cniVersion: '1.0.0', name: 'zm', type: 'zmesh-cni' }), 7, /network: missing/],
  ['a network name with a slash', base, config({ network: 'a/b' }), 7, /network: "a\/b" is not a zmesh network name/],
  ['a relative socket', base, config({ socket: 'x.sock' }), 7, /socket: "x.sock" is not an absolute path/],
  [
    'a static IP that is not an address',
    base,
    config({ runtimeConfig: { ips: ['10.77.0.300'] } }),
    7,
    /runtimeConfig.ips\[0\]: "10.77.0.300" is not an IPv4 address/,
  ],
  [
    'two static IPs',
    base,
    config({ runtimeConfig: { ips: ['10.77.0.3', '10.77.0.4'] } }),
    7,
    /one IPv4 address per interface/,
  ],
  ['a bad IP in CNI_ARGS', { ...base, CNI_ARGS: 'IP=nope' }, config(), 7, /CNI_ARGS IP: "nope" is not an IPv4 address/],
  [
    'CHECK in 0.3.1',
    { ...base, CNI_COMMAND: 'CHECK' },
    config({ cniVersion: '0.3.1' }),
    1,
    /CHECK is not part of CNI 0.3.1/,
  ],
  ['GC in 1.0.0', { CNI_COMMAND: 'GC' }, config(), 1, /GC is not part of CNI 1.0.0/],
  [
    'GC attachments that are not objects',
    { CNI_COMMAND: 'GC' },
    config({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': ['c1'] }),
    7,
    /valid-attachments\[0\]: must be/,
  ],
  ['dns that is not an object', base, config({ dns: ['8.8.8.8'] }), 7, /dns: must be an object/],
];

for (const [what, env, stdin, code, message] of bad) {
  test(`${what}: spec error ${code} on stdout, exit 1, no call made`, async (t) => {
    const parsed = parseInvocation(env, stdin);
    t.false(parsed.ok);
    const out = await runCni(env as NodeJS.ProcessEnv, stdin);
    t.is(out.exitCode, 1);
    const lines = out.stdout.trim().split('\n');
    t.is(lines.length, 1, 'exactly one JSON document');
    const doc = JSON.parse(lines[0]!);
    t.is(doc.code, code, doc.msg);
    t.regex(doc.msg, message);
    t.is(typeof doc.cniVersion, 'string');
  });
}

test("DEL needs no CNI_NETNS (the namespace may be gone) and ADD ignores podman's pod keys", (t) => {
  const del = parseInvocation({ ...base, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }, config());
  t.true(del.ok && del.invocation.command === 'DEL' && del.invocation.netns === null);
  t.true(
    parseInvocation(
      { ...base, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=x;K8S_POD_NAME=y;K8S_POD_INFRA_CONTAINER_ID=z' },
      config(),
    ).ok,
  );
  t.true(parseInvocation({ ...base, CNI_ARGS: 'IgnoreUnknown=true;ANYTHING=1' }, config()).ok);
});

test("an error is written in the config's version when it is a supported one", async (t) => {
  const out = await runCni({ ...base, CNI_IFNAME: undefined }, config({ cniVersion: '0.4.0' }));
  t.is(JSON.parse(out.stdout).cniVersion, '0.4.0');
});

test('an ADD to a networkd that is not there is error 11 naming its socket', async (t) => {
  const add = await runCni(base, config());
  t.is(JSON.parse(add.stdout).code, 11);
  t.regex(JSON.parse(add.stdout).msg, /networkd is not answering at \/nonexistent\/zmesh-cni-test.sock/);
});

test("the plugin's network name grammar is netdef's", (t) => {
  t.is(NETWORK_NAME.source, NETWORK_NAME_PATTERN);
});
