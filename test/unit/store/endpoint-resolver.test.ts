import test from 'ava';
import { StoreEndpoints } from '../../../src/store/endpoint-resolver.js';

/** A resolver answering from a table the test edits; a name not in it fails like NXDOMAIN. */
function table(answers: Record<string, string>) {
  return async (host: string): Promise<string> => {
    const answer = answers[host];
    if (answer === undefined) throw Object.assign(new Error(`${host} not found`), { code: 'ENOTFOUND' });
    return answer;
  };
}

test('numeric endpoints need no resolving and pass through', async (t) => {
  const logs: string[] = [];
  const endpoints = new StoreEndpoints(['192.0.2.1:2379', '[2001:db8::1]:2379'], (m) => logs.push(m), table({}));
  t.false(endpoints.hasNames);
  t.deepEqual(await endpoints.resolve(), { addresses: ['192.0.2.1:2379', '[2001:db8::1]:2379'], changed: true });
  t.deepEqual(logs, []);
});

test('names resolve; a failure keeps the last good address, logged once; a new address is picked up', async (t) => {
  const logs: string[] = [];
  const answers: Record<string, string> = { 'store1.zmesh.test': '192.0.2.1', 'store2.zmesh.test': '192.0.2.2' };
  const urlHosts = ['store1.zmesh.test:2379', 'store2.zmesh.test:2380', '192.0.2.3:2379'];
  const endpoints = new StoreEndpoints(urlHosts, (m) => logs.push(m), table(answers));
  const first = ['192.0.2.1:2379', '192.0.2.2:2380', '192.0.2.3:2379'];
  t.true(endpoints.hasNames);
  t.deepEqual(await endpoints.resolve(), { addresses: first, changed: true });
  t.deepEqual(await endpoints.resolve(), { addresses: first, changed: false });
  t.is(logs.length, 2, 'one line per name, none when nothing changed');

  delete answers['store1.zmesh.test'];
  delete answers['store2.zmesh.test'];
  logs.length = 0;
  for (let i = 0; i < 3; i++) {
    t.deepEqual(await endpoints.resolve(), { addresses: first, changed: false });
  }
  t.deepEqual(logs, [
    'store endpoint store1.zmesh.test does not resolve; keeping its last good address 192.0.2.1:2379',
    'store endpoint store2.zmesh.test does not resolve; keeping its last good address 192.0.2.2:2380',
  ]);

  answers['store1.zmesh.test'] = '198.51.100.1';
  logs.length = 0;
  const moved = ['198.51.100.1:2379', '192.0.2.2:2380', '192.0.2.3:2379'];
  t.deepEqual(await endpoints.resolve(), { addresses: moved, changed: true });
  t.deepEqual(logs, ['store endpoint store1.zmesh.test resolves again: 198.51.100.1:2379']);
});

test('a name that never resolved is left out until it does', async (t) => {
  const logs: string[] = [];
  const answers: Record<string, string> = {};
  const urlHosts = ['store1.zmesh.test:2379', '192.0.2.3:2379'];
  const endpoints = new StoreEndpoints(urlHosts, (m) => logs.push(m), table(answers));
  t.deepEqual(await endpoints.resolve(), { addresses: ['192.0.2.3:2379'], changed: true });
  t.deepEqual(await endpoints.resolve(), { addresses: ['192.0.2.3:2379'], changed: false });
  t.deepEqual(logs, [
    'store endpoint store1.zmesh.test does not resolve and has no last good address: left out until it does',
  ]);
  answers['store1.zmesh.test'] = '192.0.2.1';
  t.deepEqual(await endpoints.resolve(), { addresses: ['192.0.2.1:2379', '192.0.2.3:2379'], changed: true });
  t.is(logs[1], 'store endpoint store1.zmesh.test resolves again: 192.0.2.1:2379');
});
