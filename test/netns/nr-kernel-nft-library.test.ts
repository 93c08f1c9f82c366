// nftables through libnftables inside the addon (native/nft.c): each call runs on a thread of
// its own that enters the target namespace, so concurrent calls for different namespaces each
// land in their own namespace, the caller's thread never moves, and a namespace that cannot be
// entered is an error that changes nothing. nft(8) only reads back, inside the test's namespaces.
import test from 'ava';
import { execa } from 'execa';
import {
  KernelError,
  namespaceId,
  nftRules as r,
  readTable,
  replaceTable,
  type NftTable,
} from '../../src/nr/kernel/index.js';
import { nftGeneration, nftGenerationAfterCommit } from '../../src/nr/nft-generation.js';
import { worldFor } from '../harness/ava.js';

function tableWith(tag: number): NftTable {
  return {
    chains: [
      {
        name: 'forward',
        hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' },
        rules: [[r.iifname(`tag${tag}`), r.drop()]],
      },
    ],
  };
}

test('concurrent replaces in four namespaces each leave exactly the last table written there, and the caller stays in its namespace', async (t) => {
  const w = await worldFor(t);
  const spaces = await Promise.all([0, 1, 2, 3].map((i) => w.namespace(`lib${i}`)));
  const before = namespaceId(null);
  // Five rounds, all four namespaces at once; round k writes tag 10*namespace + k.
  for (let round = 0; round < 5; round++) {
    await Promise.all(spaces.map((ns, i) => replaceTable(ns.path, 'inet', 'zmesh', tableWith(10 * i + round))));
  }
  t.is(namespaceId(null), before, "the JS thread's namespace never changed");
  for (const [i, ns] of spaces.entries()) {
    t.deepEqual(await readTable(ns.path, 'inet', 'zmesh'), tableWith(10 * i + 4));
    // nft(8) agrees, in that namespace only.
    const listed = (
      await execa('/usr/bin/nsenter', [`--net=${ns.path}`, '/usr/sbin/nft', 'list', 'tables'])
    ).stdout.trim();
    t.is(listed, 'table inet zmesh', `namespace ${i} holds only its own table`);
    t.regex(
      (await execa('/usr/bin/nsenter', [`--net=${ns.path}`, '/usr/sbin/nft', 'list', 'table', 'inet', 'zmesh'])).stdout,
      new RegExp(`iifname "tag${10 * i + 4}" drop`),
    );
  }
});

test('a namespace path that cannot be entered (absent, or not a namespace) is a KernelError with its errno naming the path, not an nft failure', async (t) => {
  const w = await worldFor(t);
  const missing = `/run/netns/${w.prefix}absent`;
  const error = (await t.throwsAsync(replaceTable(missing, 'inet', 'zmesh', tableWith(1)))) as KernelError;
  t.true(error instanceof KernelError);
  t.is(error.code, 'ENOENT');
  t.regex(error.message, new RegExp(`replace nft table inet zmesh in network namespace ${missing}`));
  const notNetns = w.tempDir();
  const other = (await t.throwsAsync(readTable(notNetns, 'inet', 'zmesh'))) as KernelError;
  t.true(other instanceof KernelError, 'a directory is not a namespace');
  t.not(other.code, 'ENFT');
});

test("the nftables generation of a namespace moves by one per replacement there and not for another namespace's; an unknown namespace reads as null", async (t) => {
  const w = await worldFor(t);
  const [a, b] = [await w.namespace('gena'), await w.namespace('genb')];
  const [a0, b0] = [await nftGeneration(a.path), await nftGeneration(b.path)];
  t.true(typeof a0 === 'number' && typeof b0 === 'number');
  await replaceTable(a.path, 'inet', 'zmesh', tableWith(1));
  await replaceTable(a.path, 'inet', 'zmesh', tableWith(2));
  // Both readers (the addon's, used right after a commit, and the in-thread one) agree.
  t.is(await nftGenerationAfterCommit(a.path), (a0 as number) + 2);
  t.is(await nftGeneration(a.path), (a0 as number) + 2);
  t.is(await nftGenerationAfterCommit(b.path), b0);
  for (const read of [nftGeneration, nftGenerationAfterCommit])
    t.is(await read(`/run/netns/${w.prefix}none`), null, read.name);
});
