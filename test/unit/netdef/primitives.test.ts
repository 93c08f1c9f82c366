import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  basePortOf,
  formatEndpoint,
  jsonSchemaDocuments,
  netIdOf,
  parseCidr,
  parseEndpoint,
  wgAddressOf,
} from '../../../src/netdef/index.js';

test('netIdOf is 8 base32 chars of SHA-256(name) and stays the same forever (golden values)', (t) => {
  // Golden values (computed independently: base32(sha256(name)[:5]) in Python); they name NR namespaces on running nodes; changing them orphans namespaces.
  t.is(netIdOf('demo'), netIdOf('demo'));
  t.regex(netIdOf('demo'), /^[a-z2-7]{8}$/);
  t.is(netIdOf('demo'), 'fklvc3bv');
  t.is(netIdOf('office'), 'ltb7qkby');
  t.not(netIdOf('demo'), netIdOf('Demo'));
});

test('the base port is derived from the name and lies in [20000, 59999]', (t) => {
  t.is(basePortOf('demo'), basePortOf('demo'));
  for (const name of ['a', 'b', 'demo', 'office', 'x'.repeat(60)]) {
    const port = basePortOf(name);
    t.true(port >= 20000 && port <= 59999, `${name}: ${port}`);
  }
});

test('wg address of a.A.B.0/24 is 100.64.A.B', (t) => {
  t.is(wgAddressOf(parseCidr('10.1.2.0/24')!), '100.64.1.2');
  t.is(wgAddressOf(parseCidr('10.200.7.0/24')!), '100.64.200.7');
});

test('CIDR parsing is strict: no leading zeros, octets <= 255, prefix <= 32', (t) => {
  t.truthy(parseCidr('10.0.0.0/8'));
  for (const bad of ['010.0.0.0/8', '10.0.0.256/24', '10.0.0/24', '10.0.0.0/33', '10.0.0.0', '10.0.0.0/08x'])
    t.is(parseCidr(bad), undefined, bad);
});

test('endpoints canonicalise: lower-case host names, compressed IPv6, default port', (t) => {
  const parse = (text: string) => {
    const result = parseEndpoint(text, false);
    if (!result.ok) throw new Error(result.reason);
    return formatEndpoint(result.value, 51820);
  };
  t.is(parse('Host.Example'), 'host.example:51820');
  t.is(parse('[2001:DB8:0:0::1]:7'), '[2001:db8::1]:7');
  t.is(parse('198.51.100.1'), '198.51.100.1:51820');
  const noPort = parseEndpoint('198.51.100.1', true);
  t.false(noPort.ok);
});

test('the shipped JSON Schema files are exactly what the TypeBox schema generates (npm run schema)', (t) => {
  for (const [name, text] of Object.entries(jsonSchemaDocuments())) {
    const shipped = readFileSync(new URL(`../../../schema/${name}`, import.meta.url), 'utf8');
    t.is(shipped, text, `schema/${name} is stale: run npm run schema`);
  }
});
