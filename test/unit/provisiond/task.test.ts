import test from 'ava';
import { ProvisiondError } from '../../../src/provisiond/errors.js';
import { canonicalJson, networkOf, parseTask, parseTasks } from '../../../src/provisiond/task.js';
import { attach, oneNodeDefinition } from './helpers.js';

function rejection(input: unknown): ProvisiondError {
  try {
    parseTasks(input);
  } catch (error) {
    if (error instanceof ProvisiondError) return error;
    throw error;
  }
  throw new Error('accepted');
}

test('each task type is accepted and keyed by its network', async (t) => {
  const definition = await oneNodeDefinition('blue');
  const tasks = parseTasks([
    { id: 'a1', type: 'network.apply', definition },
    { id: 'd1', type: 'network.delete', network: 'red' },
    { ...attach('w1', 'green'), ip: '10.1.1.7' },
    { id: 'x1', type: 'workload.detach', network: 'green', workload: 'w-w1' },
  ]);
  t.deepEqual(tasks.map(networkOf), ['blue', 'red', 'green', 'green']);
});

const cases: [string, unknown, string, RegExp][] = [
  ['not an object', 'hello', '/', /must be a JSON object, not a string/],
  ['missing type', { id: 'a' }, '/type', /required field "type"/],
  ['unknown type', { id: 'a', type: 'network.explode' }, '/type', /unknown task type "network.explode"/],
  ['missing id', { type: 'network.delete', network: 'n' }, '/id', /required field "id"/],
  ['id with a space', { id: 'a b', type: 'network.delete', network: 'n' }, '/id', /malformed task id/],
  ['id too long', { id: 'x'.repeat(129), type: 'network.delete', network: 'n' }, '/id', /malformed task id/],
  ['bad network name', { id: 'a', type: 'network.delete', network: '-bad' }, '/network', /malformed network name/],
  ['unknown field', { id: 'a', type: 'network.delete', network: 'n', force: true }, '/force', /unknown field "force"/],
  [
    'attach without netns',
    { id: 'a', type: 'workload.attach', network: 'n', workload: 'w', ifname: 'eth0' },
    '/netns',
    /required field "netns"/,
  ],
  ['relative netns', { ...attach('a', 'n'), netns: 'run/netns/x' }, '/netns', /absolute path/],
  ['netns with ..', { ...attach('a', 'n'), netns: '/run/netns/../x' }, '/netns', /normalised/],
  ['long ifname', { ...attach('a', 'n'), ifname: 'a-very-long-ifname0' }, '/ifname', /malformed interface name/],
  ['ip not IPv4', { ...attach('a', 'n'), ip: '10.1.1' }, '/ip', /malformed ip/],
  [
    'workload with a slash',
    { id: 'a', type: 'workload.detach', network: 'n', workload: 'a/b' },
    '/workload',
    /malformed workload id/,
  ],
  ['apply without definition', { id: 'a', type: 'network.apply' }, '/definition', /required field "definition"/],
  [
    'apply with a definition that is no object',
    { id: 'a', type: 'network.apply', definition: 7 },
    '/definition',
    /expected an object/,
  ],
];

for (const [what, input, field, reason] of cases) {
  test(`a task with ${what} is refused naming ${field}`, (t) => {
    const error = rejection(input);
    t.is(error.code, 'EINVAL');
    t.is(error.context.field, field);
    t.regex(error.message, reason);
    t.true(error.message.includes(`${field}: `), error.message);
  });
}

test('a definition error inside network.apply is named by its path under /definition', async (t) => {
  const definition = await oneNodeDefinition('blue');
  const broken = { ...definition, resources: [{ ...definition.resources[0], subnet: '192.168.9.0/24' }] };
  const error = rejection({ id: 'a', type: 'network.apply', definition: broken });
  t.is(error.context.field, '/definition/resources/0/subnet');
  t.regex(error.message, /outside|range/);
});

test('a sealed key is never echoed in a refusal of a malformed key', async (t) => {
  const definition = await oneNodeDefinition('blue');
  const sealed = definition.resources[0]!.wgPrivateKeySealed;
  const broken = {
    ...definition,
    resources: [{ ...definition.resources[0], wgPrivateKeySealed: `${sealed.slice(0, -4)}!!!=` }],
  };
  const error = rejection({ id: 'a', type: 'network.apply', definition: broken });
  t.is(error.context.field, '/definition/resources/0/wgPrivateKeySealed');
  t.false(JSON.stringify(error.toJSON()).includes(sealed.slice(0, 40)));
});

test('in an array the refusal names the index of the bad task, and nothing is accepted', (t) => {
  const error = rejection([attach('ok', 'n'), { id: 'b', type: 'workload.detach', network: 'n' }]);
  t.is(error.context.field, '/1/workload');
});

test('an array reusing an id for two different bodies is refused; identical repeats are one task', (t) => {
  const error = rejection([attach('same', 'n'), attach('same', 'm')]);
  t.is(error.context.field, '/1/id');
  t.is(parseTasks([attach('same', 'n'), attach('same', 'n')]).length, 2);
  t.throws(() => parseTasks([]), { message: /empty array/ });
});

test('canonical JSON ignores key order, so a re-ordered resubmission is the same body', (t) => {
  const a = parseTask({ id: 'x', type: 'workload.detach', network: 'n', workload: 'w' });
  const b = parseTask({ workload: 'w', network: 'n', type: 'workload.detach', id: 'x' });
  t.is(canonicalJson(a), canonicalJson(b));
});
