// Tests of the nftables access (src/nr/kernel/nft.ts, nft-rules.ts) in real namespaces: atomic
// replacement of one named table, read-back, deletion, failure leaving the old table in place,
// other tables untouched, and the rules really filtering traffic. nft is only ever run inside
// the test's namespaces (the root namespace's ruleset is never listed or touched).
import test from 'ava';
import {
  deleteTable,
  KernelError,
  nftRules as r,
  readTable,
  replaceTable,
  type NftTable,
} from '../../src/nr/kernel/index.js';
import { worldFor } from '../harness/ava.js';
import { ping, type Namespace } from '../harness/index.js';

/** The NR table of docs/network-resources.md (forward, input, postrouting). */
const NR_TABLE: NftTable = {
  chains: [
    {
      name: 'forward',
      hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' },
      rules: [
        [r.ctState(['established', 'related']), r.accept()],
        [r.iifname('public'), r.drop()],
        [r.tcpFlagsSyn(), r.clampMssToPmtu()],
      ],
    },
    {
      name: 'input',
      hook: { type: 'filter', hook: 'input', priority: 0, policy: 'accept' },
      rules: [
        [r.ctState(['established', 'related']), r.accept()],
        [r.iifname('public'), r.drop()],
      ],
    },
    {
      name: 'postrouting',
      hook: { type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' },
      rules: [[r.oifname('public'), r.masquerade()]],
    },
  ],
};

/** The ndmz's forward rules: private-range drop from br-nr, and a regular chain. */
const NDMZ_TABLE: NftTable = {
  chains: [
    {
      name: 'forward',
      hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' },
      rules: [
        [r.ctState(['established', 'related']), r.accept()],
        [r.iifname('npub'), r.drop()],
        [
          r.iifname('br-nr'),
          r.ipDaddrIn(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10']),
          r.drop(),
        ],
        [r.ipSaddr('100.126.0.0/30'), r.oifname('ndmz0', '!='), r.jump('audit')],
        [r.ipDaddr('203.0.113.10/32'), r.accept()],
      ],
    },
    { name: 'audit', rules: [[r.ctState(['new']), r.accept()]] },
  ],
};

async function nftTables(ns: Namespace): Promise<string[]> {
  const out = JSON.parse((await ns.exec('nft', ['-j', 'list', 'tables'])).stdout) as {
    nftables: Array<{ table?: { family: string; name: string } }>;
  };
  return out.nftables.flatMap((i) => (i.table ? [`${i.table.family} ${i.table.name}`] : [])).sort();
}

/** Chains and rule count as nft itself lists them (independent of readTable). */
async function nftShape(ns: Namespace, family: string, name: string): Promise<Record<string, number>> {
  const out = JSON.parse((await ns.exec('nft', ['-j', 'list', 'table', family, name])).stdout) as {
    nftables: Array<Record<string, { chain?: string; name?: string }>>;
  };
  const shape: Record<string, number> = {};
  for (const i of out.nftables) if (i.chain) shape[i.chain.name as string] = 0;
  for (const i of out.nftables) if (i.rule) shape[i.rule.chain as string]! += 1;
  return shape;
}

test('replaceTable writes the table, readTable returns exactly what was written, and a second replace replaces it completely', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('nf');
  await replaceTable(ns.path, 'inet', 'zmesh', NR_TABLE);
  t.deepEqual(await nftShape(ns, 'inet', 'zmesh'), { forward: 3, input: 2, postrouting: 1 });
  t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), NR_TABLE);
  const text = (await ns.exec('nft', ['list', 'table', 'inet', 'zmesh'])).stdout;
  t.regex(text, /iifname "public" drop/);
  t.regex(text, /tcp option maxseg size set rt mtu/);

  await replaceTable(ns.path, 'inet', 'zmesh', NDMZ_TABLE);
  t.deepEqual(await nftShape(ns, 'inet', 'zmesh'), { forward: 5, audit: 1 }, 'nothing of the first table is left');
  t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), NDMZ_TABLE);
  t.deepEqual(await nftTables(ns), ['inet zmesh']);
});

test('deleteTable removes only the named table, is fine when it is absent, and readTable then returns null', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('nd');
  // Someone else's table in the same namespace, which must survive everything we do.
  await ns.exec('nft', ['add', 'table', 'inet', 'other']);
  await ns.exec('nft', ['add', 'chain', 'inet', 'other', 'c']);
  await replaceTable(ns.path, 'inet', 'zmesh', NR_TABLE);
  await replaceTable(ns.path, 'bridge', 'zmesh', {
    chains: [{ name: 'forward', hook: { type: 'filter', hook: 'forward', priority: -200, policy: 'drop' }, rules: [] }],
  });
  t.deepEqual(await nftTables(ns), ['bridge zmesh', 'inet other', 'inet zmesh']);
  await deleteTable(ns.path, 'inet', 'zmesh');
  t.deepEqual(await nftTables(ns), ['bridge zmesh', 'inet other']);
  t.is(await readTable(ns.path, 'inet', 'zmesh'), null);
  await deleteTable(ns.path, 'inet', 'zmesh');
  t.deepEqual(await readTable(ns.path, 'bridge', 'zmesh'), {
    chains: [{ name: 'forward', hook: { type: 'filter', hook: 'forward', priority: -200, policy: 'drop' }, rules: [] }],
  });
  t.deepEqual(await nftShape(ns, 'inet', 'other'), { c: 0 }, 'the other table is untouched');
});

test("a malformed table fails with ENFT and nft's message, and the previous table stays in place", async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('nm');
  await replaceTable(ns.path, 'inet', 'zmesh', NR_TABLE);
  const bad: NftTable = {
    chains: [
      {
        name: 'forward',
        hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'drop' },
        rules: [[r.accept()]],
      },
      { name: 'input', rules: [[{ no_such_statement: { x: 1 } }]] },
    ],
  };
  const e = (await t.throwsAsync(replaceTable(ns.path, 'inet', 'zmesh', bad))) as KernelError;
  t.true(e instanceof KernelError);
  t.is(e.code, 'ENFT');
  t.regex(e.message, /replace nft table inet zmesh in network namespace \/run\/netns\/\S+nm: nft exited with status 1/);
  t.regex(e.detail ?? '', /Unknown statement object 'no_such_statement'/);
  t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), NR_TABLE, 'the old table is intact');

  // A jump to a chain that does not exist is refused by the kernel, in the same transaction.
  const dangling: NftTable = {
    chains: [
      {
        name: 'forward',
        hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' },
        rules: [[r.jump('nowhere')]],
      },
    ],
  };
  t.is(((await t.throwsAsync(replaceTable(ns.path, 'inet', 'zmesh', dangling))) as KernelError).code, 'ENFT');
  t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), NR_TABLE);
});

test('the rules are live: the diode drops new inbound on "public" while the NR still reaches out; deleting the table opens it', async (t) => {
  const w = await worldFor(t);
  const nr = await w.namespace('nr');
  const out = await w.namespace('out');
  await w.link(nr, 'public', out, 'eth0', { addressA: '100.127.0.5/16', addressB: '100.127.0.1/16' });
  await replaceTable(nr.path, 'inet', 'zmesh', NR_TABLE);
  t.is((await ping(out, '100.127.0.5', { count: 1, timeoutMs: 1500 })).loss, 1, 'new inbound is dropped');
  t.is((await ping(nr, '100.127.0.1', { count: 2 })).loss, 0, 'outbound and its replies pass (ct established)');
  await deleteTable(nr.path, 'inet', 'zmesh');
  t.is((await ping(out, '100.127.0.5', { count: 2 })).loss, 0, 'without the table inbound passes');
});

test('bad input is refused with EINVAL naming the field before nft runs', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('ni');
  await replaceTable(ns.path, 'inet', 'zmesh', NR_TABLE);
  const base = { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' } as const;
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['family', () => replaceTable(ns.path, 'inet6' as never, 'zmesh', NR_TABLE), 'family'],
    ['table name', () => replaceTable(ns.path, 'inet', 'zm esh', NR_TABLE), 'name'],
    [
      'chain name',
      () => replaceTable(ns.path, 'inet', 'zmesh', { chains: [{ name: '', rules: [] }] }),
      'chains[0].name',
    ],
    [
      'duplicate chain',
      () =>
        replaceTable(ns.path, 'inet', 'zmesh', {
          chains: [
            { name: 'a', rules: [] },
            { name: 'a', rules: [] },
          ],
        }),
      'chains[1].name',
    ],
    [
      'hook',
      () =>
        replaceTable(ns.path, 'inet', 'zmesh', {
          chains: [{ name: 'a', hook: { ...base, hook: 'sideways' as never }, rules: [] }],
        }),
      'chains[0].hook.hook',
    ],
    [
      'policy',
      () =>
        replaceTable(ns.path, 'inet', 'zmesh', {
          chains: [{ name: 'a', hook: { ...base, policy: 'reject' as never }, rules: [] }],
        }),
      'chains[0].hook.policy',
    ],
    [
      'priority',
      () =>
        replaceTable(ns.path, 'inet', 'zmesh', {
          chains: [{ name: 'a', hook: { ...base, priority: 1.5 }, rules: [] }],
        }),
      'chains[0].hook.priority',
    ],
    [
      'empty rule',
      () => replaceTable(ns.path, 'inet', 'zmesh', { chains: [{ name: 'a', rules: [[]] }] }),
      'chains[0].rules[0]',
    ],
    ['read name', () => readTable(ns.path, 'inet', '../x'), 'name'],
    ['delete family', () => deleteTable(ns.path, 'ipx' as never, 'zmesh'), 'family'],
  ];
  for (const [label, call, field] of cases) {
    const e = (await t.throwsAsync(call(), undefined, label)) as KernelError;
    t.is(e.code, 'EINVAL', label);
    t.is(e.field, field, label);
  }
  t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), NR_TABLE, 'nothing changed');
});

test('one replaceTable costs one nsenter+nft spawn: measured over 10 replaces', async (t) => {
  const w = await worldFor(t);
  const ns = await w.namespace('np');
  const n = 10;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await replaceTable(ns.path, 'inet', 'zmesh', i % 2 ? NR_TABLE : NDMZ_TABLE);
    times.push(performance.now() - start);
  }
  times.sort((x, y) => x - y);
  const median = times[Math.floor(n / 2)]!;
  t.log(
    `replaceTable: median ${median.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms, max ${times[n - 1]!.toFixed(1)} ms (n=${n})`,
  );
  t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), NR_TABLE, 'the last replace won');
});
