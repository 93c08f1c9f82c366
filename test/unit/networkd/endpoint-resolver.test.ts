import test from 'ava';
import { EndpointResolver, type HostResolver } from '../../../src/networkd/endpoint-resolver.js';

/** A scripted resolver: a name maps to an address, an Error (a failure) or 'hang' (never answers). */
function scripted(answers: Record<string, string | Error | 'hang'>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<string> => {
    calls.push(host);
    const answer = answers[host];
    if (answer === undefined) throw Object.assign(new Error(`${host} not found`), { code: 'ENOTFOUND' });
    if (answer instanceof Error) throw answer;
    if (answer === 'hang') return new Promise<string>(() => {});
    return answer;
  };
  return Object.assign(resolve, { calls });
}

test('numeric endpoints pass through untouched and null stays null', async (t) => {
  const resolver = new EndpointResolver(scripted({}));
  const { endpoints, lastGood } = await resolver.resolveAll(['198.51.100.7:51820', '[2001:db8::1]:443', null], {});
  t.deepEqual(
    endpoints.map((e) => e.endpoint),
    ['198.51.100.7:51820', '[2001:db8::1]:443', null],
  );
  t.deepEqual(
    endpoints.map((e) => e.source),
    ['literal', 'literal', 'unresolved'],
  );
  t.deepEqual(lastGood, {});
});

test('a host name is resolved and its address becomes the last good one', async (t) => {
  const resolver = new EndpointResolver(scripted({ 'node-a.example': '203.0.113.4' }));
  const { endpoints, lastGood } = await resolver.resolveAll(['node-a.example:51820'], {});
  t.is(endpoints[0]?.endpoint, '203.0.113.4:51820');
  t.is(endpoints[0]?.source, 'dns');
  t.deepEqual(lastGood, { 'node-a.example': '203.0.113.4' });
});

test('when DNS fails the last good address is used and kept', async (t) => {
  const resolver = new EndpointResolver(scripted({ 'node-a.example': new Error('SERVFAIL') }));
  const { endpoints, lastGood } = await resolver.resolveAll(['node-a.example:51820'], {
    'node-a.example': '203.0.113.4',
  });
  t.is(endpoints[0]?.endpoint, '203.0.113.4:51820');
  t.is(endpoints[0]?.source, 'last-good');
  t.deepEqual(lastGood, { 'node-a.example': '203.0.113.4' });
});

test('a resolver that hangs is cut off by the timeout and the last good address is used', async (t) => {
  const resolver = new EndpointResolver(scripted({ 'slow.example': 'hang' }), 50);
  const started = Date.now();
  const { endpoints } = await resolver.resolveAll(['slow.example:1'], { 'slow.example': '203.0.113.9' });
  t.true(Date.now() - started < 2000);
  t.is(endpoints[0]?.endpoint, '203.0.113.9:1');
});

test('a name that never resolved leaves its peer without an endpoint', async (t) => {
  const resolver = new EndpointResolver(scripted({}));
  const { endpoints, lastGood } = await resolver.resolveAll(['ghost.example:51820'], {});
  t.is(endpoints[0]?.endpoint, null);
  t.is(endpoints[0]?.source, 'unresolved');
  t.deepEqual(lastGood, {});
});

test('a new answer replaces the last good address, names no longer used are dropped, each name is asked once', async (t) => {
  const dns = scripted({ 'a.example': '203.0.113.20' });
  const resolver = new EndpointResolver(dns);
  const { endpoints, lastGood } = await resolver.resolveAll(['a.example:1', 'a.example:2'], {
    'a.example': '203.0.113.4',
    'old.example': '203.0.113.5',
  });
  t.deepEqual(
    endpoints.map((e) => e.endpoint),
    ['203.0.113.20:1', '203.0.113.20:2'],
  );
  t.deepEqual(lastGood, { 'a.example': '203.0.113.20' });
  t.deepEqual(dns.calls, ['a.example']);
});

test('an IPv6 answer is written in brackets', async (t) => {
  const resolver = new EndpointResolver(scripted({ 'v6.example': '2001:db8::5' }));
  const { endpoints } = await resolver.resolveAll(['v6.example:51820'], {});
  t.is(endpoints[0]?.endpoint, '[2001:db8::5]:51820');
});

test('the last good map is reported changed only when a name or an address differs, not for another key order', async (t) => {
  const resolver = new EndpointResolver(scripted({ 'a.example': '203.0.113.1', 'b.example': '203.0.113.2' }));
  const endpoints = ['a.example:1', 'b.example:2'];
  const same = await resolver.resolveAll(endpoints, { 'b.example': '203.0.113.2', 'a.example': '203.0.113.1' });
  t.false(same.changed, 'the same addresses stored in another order');
  t.true(
    (await resolver.resolveAll(endpoints, { 'a.example': '203.0.113.1', 'b.example': '203.0.113.9' })).changed,
    'an address moved',
  );
  t.true((await resolver.resolveAll(endpoints, { 'a.example': '203.0.113.1' })).changed, 'a name is new');
  t.true(
    (await resolver.resolveAll(['a.example:1'], { 'a.example': '203.0.113.1', 'b.example': '203.0.113.2' })).changed,
    'a name went',
  );
});
