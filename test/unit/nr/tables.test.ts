/**
 * The nftables tables zmesh plans, pinned byte for byte: what src/nr/tables.ts builds for the
 * host (production and a test prefix), the ndmz (inet and bridge) and an NR must serialise to
 * exactly the JSON recorded in tables.golden.json (recorded from the tables as written out rule
 * by rule, before the chains were built by helpers). A change to the rules must change the file.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parsePrefix } from '../../../src/nr/names.js';
import { toKernelTable } from '../../../src/nr/nft.js';
import { hostTable, ndmzBridgeTable, ndmzTable, nrTable } from '../../../src/nr/tables.js';

const golden = JSON.parse(readFileSync(new URL('./tables.golden.json', import.meta.url), 'utf8')) as Record<
  string,
  string
>;

const planned = {
  'host ""': hostTable(parsePrefix('')),
  'host "zt1"': hostTable(parsePrefix('zt1')),
  ndmz: ndmzTable(),
  'ndmz bridge': ndmzBridgeTable(),
  nr: nrTable('w-abcdefgh'),
};

for (const [what, table] of Object.entries(planned)) {
  test(`the ${what} table serialises byte for byte to the recorded nftables JSON`, (t) => {
    t.is(
      JSON.stringify({ family: table.family, name: table.name, kernel: toKernelTable(table) }),
      golden[what] ?? '(not recorded)',
    );
  });
}

test('the recorded tables are all checked (none added or dropped unnoticed)', (t) => {
  t.deepEqual(Object.keys(planned).sort(), Object.keys(golden).sort());
});
