import test from 'ava';
import { parseAttachRequest, parseGcRequest, parseNetworkName, parseTaskId } from '../../../src/networkd/requests.js';
import { errorOf } from './error-of.js';

const good = { workload: 'c0ffee', netns: '/run/netns/wl1', ifname: 'eth0' };

test('a well-formed attach request is parsed with ip optional', (t) => {
  t.deepEqual(parseAttachRequest(good), { ...good, ip: undefined, owner: { kind: 'api' } });
  t.is(parseAttachRequest({ ...good, ip: '10.0.0.5' }).ip, '10.0.0.5');
});

test('a CNI attach names its owner and container id', (t) => {
  t.deepEqual(parseAttachRequest({ ...good, owner: 'cni', containerId: 'abc_1.x-2' }).owner, {
    kind: 'cni',
    containerId: 'abc_1.x-2',
  });
  t.deepEqual(parseAttachRequest({ ...good, owner: 'api' }).owner, { kind: 'api' });
});

test('a GC request is a list of workload ids to keep', (t) => {
  t.deepEqual([...parseGcRequest({ keep: ['a', 'b'] }).keep], ['a', 'b']);
  t.is(errorOf(() => parseGcRequest({ keep: 'a' })).context.field, 'keep');
  t.is(errorOf(() => parseGcRequest({ keep: ['a/b'] })).context.field, 'keep/0');
  t.is(errorOf(() => parseGcRequest({ keep: [], drop: [] })).context.field, 'drop');
});

const bad: Array<[string, unknown, string, RegExp]> = [
  ['an owner that is neither api nor cni', { ...good, owner: 'k8s' }, 'owner', /must be "api" or "cni"/],
  ['a CNI owner without a container id', { ...good, owner: 'cni' }, 'containerId', /is required/],
  ['a container id with a slash', { ...good, owner: 'cni', containerId: 'a/b' }, 'containerId', /not a container id/],
  ['a container id without the CNI owner', { ...good, containerId: 'abc' }, 'containerId', /only with owner "cni"/],
  ['a body that is not an object', [good], 'body', /must be a JSON object, not an array/],
  ['a missing workload', { netns: good.netns, ifname: 'eth0' }, 'workload', /is required/],
  ['a missing netns', { workload: 'w', ifname: 'eth0' }, 'netns', /is required/],
  ['a relative netns path', { ...good, netns: 'run/netns/x' }, 'netns', /absolute path/],
  ['a netns path with ..', { ...good, netns: '/run/netns/../x' }, 'netns', /normalised/],
  ['an ifname longer than 15 bytes', { ...good, ifname: 'a'.repeat(16) }, 'ifname', /not an interface name/],
  ['an ifname with a slash', { ...good, ifname: 'eth/0' }, 'ifname', /not an interface name/],
  ['a workload id with a slash', { ...good, workload: '../etc' }, 'workload', /not a workload id/],
  ['a numeric workload id', { ...good, workload: 7 }, 'workload', /must be a string, not a number/],
  ['an ip that is not a string', { ...good, ip: 5 }, 'ip', /must be a string/],
  ['an unknown field', { ...good, mtu: 9000 }, 'mtu', /unknown field/],
];
for (const [what, body, field, reason] of bad) {
  test(`attach: ${what} is a 400 naming ${field}`, (t) => {
    const error = errorOf(() => parseAttachRequest(body));
    t.is(error.status, 400);
    t.is(error.context.field, field);
    t.regex(error.message, reason);
  });
}

test('network names follow the definition schema and bad ones are a 400 naming the field', (t) => {
  t.is(String(parseNetworkName('prod-1.eu')), 'prod-1.eu');
  for (const name of ['', '.hidden', 'a/b', 'x'.repeat(64), 'sp ace']) {
    const error = errorOf(() => parseNetworkName(name));
    t.is(error.status, 400, name);
    t.is(error.context.field, 'name');
  }
});

test('X-Task-Id must be 1-128 printable characters and given once', (t) => {
  t.is(parseTaskId(undefined), undefined);
  t.is(String(parseTaskId('task-42')), 'task-42');
  t.is(errorOf(() => parseTaskId('has space')).context.field, 'X-Task-Id');
  t.is(errorOf(() => parseTaskId('x'.repeat(129))).status, 400);
  t.regex(errorOf(() => parseTaskId(['a', 'b'])).message, /more than once/);
});
