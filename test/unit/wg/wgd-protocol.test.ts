// The control protocol of zmesh wgd as pure functions: every class of bad request is refused with
// EINVAL whose message starts with the field at fault; good requests parse to their typed form;
// answers are read back strictly by the client side.
import test from 'ava';
import { WgdError } from '../../../src/wg/wgd/errors.js';
import { formatAnswer, parseAnswer, parseRequestLine } from '../../../src/wg/wgd/protocol.js';

const BAD: readonly [string, string, string][] = [
  // [what, line, field the message must start with]
  ['not JSON', '{"op":"list"', 'request'],
  ['a JSON array', '[1,2]', 'request'],
  ['a JSON string', '"list"', 'request'],
  ['null', 'null', 'request'],
  ['no op', '{"name":"wg0"}', 'op'],
  ['op not a string', '{"op":7}', 'op'],
  ['unknown op', '{"op":"destroy","name":"wg0"}', 'op'],
  ['op in another case', '{"op":"LIST"}', 'op'],
  ['unknown field on list', '{"op":"list","all":true}', 'all'],
  ['unknown field on ping', '{"op":"ping","verbose":1}', 'verbose'],
  ['unknown field on create (typo)', '{"op":"create","name":"wg0","netns":"/run/netns/a","mut":1420}', 'mut'],
  ['unknown field on delete', '{"op":"delete","name":"wg0","force":true}', 'force'],
  ['create without name', '{"op":"create","netns":"/run/netns/a"}', 'name'],
  ['create without netns', '{"op":"create","name":"wg0"}', 'netns'],
  ['delete without name', '{"op":"delete"}', 'name'],
  ['name not a string', '{"op":"create","name":5,"netns":"/run/netns/a"}', 'name'],
  ['name null', '{"op":"delete","name":null}', 'name'],
  ['name empty', '{"op":"delete","name":""}', 'name'],
  ['name of 16 bytes', '{"op":"delete","name":"abcdefghijklmnop"}', 'name'],
  ['name with a slash', '{"op":"create","name":"a/b","netns":"/run/netns/a"}', 'name'],
  ['name ..', '{"op":"delete","name":".."}', 'name'],
  ['name with a space', '{"op":"delete","name":"w g"}', 'name'],
  ['netns relative', '{"op":"create","name":"wg0","netns":"run/netns/a"}', 'netns'],
  ['netns with ..', '{"op":"create","name":"wg0","netns":"/run/netns/../a"}', 'netns'],
  ['netns with //', '{"op":"create","name":"wg0","netns":"/run//netns/a"}', 'netns'],
  ['netns with a trailing slash', '{"op":"create","name":"wg0","netns":"/run/netns/a/"}', 'netns'],
  ['netns not a string', '{"op":"create","name":"wg0","netns":["/run/netns/a"]}', 'netns'],
  ['mtu a string', '{"op":"create","name":"wg0","netns":"/run/netns/a","mtu":"1420"}', 'mtu'],
  ['mtu fractional', '{"op":"create","name":"wg0","netns":"/run/netns/a","mtu":1420.5}', 'mtu'],
  ['mtu too small', '{"op":"create","name":"wg0","netns":"/run/netns/a","mtu":575}', 'mtu'],
  ['mtu too large', '{"op":"create","name":"wg0","netns":"/run/netns/a","mtu":65456}', 'mtu'],
  ['mtu null', '{"op":"create","name":"wg0","netns":"/run/netns/a","mtu":null}', 'mtu'],
  ['id an object', '{"op":"list","id":{}}', 'id'],
  ['id too long', `{"op":"list","id":"${'x'.repeat(129)}"}`, 'id'],
  ['id fractional', '{"op":"list","id":1.5}', 'id'],
];

for (const [what, line, field] of BAD) {
  test(`a request with ${what} is refused with EINVAL naming ${field}`, (t) => {
    const parsed = parseRequestLine(line);
    if (parsed.ok) {
      t.fail(`accepted: ${JSON.stringify(parsed.request)}`);
      return;
    }
    t.is(parsed.error.code, 'EINVAL');
    t.true(parsed.error.message.startsWith(`${field}: `), parsed.error.message);
    t.is(parsed.error.context.field, field);
  });
}

test('the id of a refused request is kept when it is readable, so the answer can carry it', (t) => {
  const parsed = parseRequestLine('{"op":"nope","id":"r-7"}');
  t.false(parsed.ok);
  t.is(parsed.id, 'r-7');
  t.deepEqual(JSON.parse(formatAnswer(parsed.id, { ok: false, error: (parsed as { error: WgdError }).error })), {
    id: 'r-7',
    ok: false,
    error: { code: 'EINVAL', message: 'op: unknown op "nope" (one of create, delete, delete-many, list, ping)' },
  });
});

test("good requests parse to their typed form; an omitted mtu is null (the default is the registry's)", (t) => {
  t.deepEqual(parseRequestLine('{"op":"create","name":"w-abc","netns":"/run/netns/n-abc","mtu":1380,"id":3}'), {
    ok: true,
    id: 3,
    request: { op: 'create', name: 'w-abc', netns: '/run/netns/n-abc', mtu: 1380 },
  });
  t.deepEqual(parseRequestLine('{"op":"create","name":"w-abc","netns":"/run/netns/n-abc"}'), {
    ok: true,
    id: undefined,
    request: { op: 'create', name: 'w-abc', netns: '/run/netns/n-abc', mtu: null },
  });
  t.deepEqual(parseRequestLine(' {"op":"delete","name":"x.y=z+1_-"} '), {
    ok: true,
    id: undefined,
    request: { op: 'delete', name: 'x.y=z+1_-' },
  });
  t.deepEqual(parseRequestLine('{"op":"list"}'), { ok: true, id: undefined, request: { op: 'list' } });
  t.deepEqual(parseRequestLine('{"op":"ping","id":"health"}'), { ok: true, id: 'health', request: { op: 'ping' } });
});

test('delete-many takes 1 to 4096 device names, each checked like a delete naming its index; its answer lists the names that existed', (t) => {
  t.deepEqual(parseRequestLine('{"op":"delete-many","names":["w-a","w-b"]}'), {
    ok: true,
    id: undefined,
    request: { op: 'delete-many', names: ['w-a', 'w-b'] },
  });
  for (const [names, field] of [
    ['[]', 'names'],
    ['"w-a"', 'names'],
    [JSON.stringify(Array.from({ length: 4097 }, (_, i) => `w${i}`)), 'names'],
    ['["w-a","bad/name"]', 'names[1]'],
    ['["w-a",7]', 'names[1]'],
  ] as const) {
    const parsed = parseRequestLine(`{"op":"delete-many","names":${names}}`);
    t.false(parsed.ok, names.slice(0, 40));
    t.is((parsed as { error: WgdError }).error.context.field, field, names.slice(0, 40));
  }
  t.deepEqual(parseAnswer('delete-many', '{"ok":true,"existed":["w-a"]}').result, { existed: ['w-a'] });
  t.is(
    t.throws(() => parseAnswer('delete-many', '{"ok":true,"existed":[1]}'), { instanceOf: WgdError }).code,
    'EPROTO',
  );
});

test("the client reads an error answer as a WgdError with the daemon's code and message", (t) => {
  const error = t.throws(
    () =>
      parseAnswer('create', '{"ok":false,"error":{"code":"EEXIST","message":"mtu: device w0 exists with MTU 1420"}}'),
    { instanceOf: WgdError },
  );
  t.is(error.code, 'EEXIST');
  t.is(error.message, 'mtu: device w0 exists with MTU 1420');
});

test('the client refuses answers that are not the protocol with EPROTO', (t) => {
  for (const line of [
    'garbage',
    '[]',
    '{"ok":"yes"}',
    '{"ok":true}',
    '{"ok":true,"devices":{}}',
    '{"ok":false,"error":"x"}',
    '{"ok":true,"device":{"name":"a","netns":"/n","mtu":1420,"uapiSocket":"/s","listenPort":-1,"peers":0},"created":true}',
  ]) {
    const op = line.includes('devices') ? 'list' : 'create';
    const error = t.throws(() => parseAnswer(op, line), { instanceOf: WgdError }, line);
    t.is(error.code, 'EPROTO', line);
  }
});
