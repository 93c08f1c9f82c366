/**
 * nftables in a namespace, one named table at a time, through nft(8)'s JSON interface. A table is
 * always replaced as a whole in ONE transaction (`add table; delete table; add table; add chain...;
 * add rule...`), so the replacement is atomic, works whether or not the table existed, and a
 * malformed table leaves the previous one in place. Nothing but the named table is ever read or
 * written: no ruleset listing, no flush.
 *
 * The JSON runs through libnftables inside the addon (native/nft.c: a short-lived thread enters
 * the namespace and runs the library there), ~1 ms a call instead of 17–35 ms for a process. An
 * addon built before that binding existed has no `nftRun`: then, and only then, nft(8) is spawned
 * as `/usr/bin/nsenter --net=PATH /usr/sbin/nft -j -f FILE` (absolute paths: under npx/ava
 * `node_modules/.bin/nft` is a different program; a file because nft cannot read a Node child's
 * stdin), and one line on stderr says so.
 *
 * Input shape (what the plan produces; readTable returns the same shape):
 *
 *   const table: NftTable = {
 *     chains: [
 *       { name: 'forward', hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' },
 *         rules: [ [ { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null } ] ] },
 *       { name: 'helper', rules: [] },            // a regular chain (jump target): no hook
 *     ],
 *   };
 *
 * A rule is the `expr` array of libnftables-json(5): one object per statement. Rules built with
 * nft-rules.ts are written in the exact form nft lists them back, so `readTable` of a table made
 * from them deep-equals the input (plan/diff can compare desired and observed directly).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../native/binding.js';
import { KernelError, invalidArgument, kernelErrorFrom, type KernelErrorContext } from './errors.js';

export const NFT = '/usr/sbin/nft';
export const NSENTER = '/usr/bin/nsenter';
const NFT_TIMEOUT_MS = 15_000;
const MAX_DETAIL = 2000;

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';
export type NftChainType = 'filter' | 'nat' | 'route';
export type NftHookName = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress';
export type NftPolicy = 'accept' | 'drop';

/** One statement of a rule in libnftables-json form, e.g. `{ accept: null }`. */
export type NftStatement = { readonly [key: string]: unknown };
/** A rule: its statements in order (libnftables-json `expr`). */
export type NftRule = readonly NftStatement[];

/** Hook priorities by their nft names (numbers are what the kernel and `nft -j` use). */
export const NFT_PRIORITY = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
  /** `priority filter` in the bridge family. */
  bridgeFilter: -200,
} as const;

export interface NftBaseChainHook {
  readonly type: NftChainType;
  readonly hook: NftHookName;
  readonly priority: number;
  readonly policy: NftPolicy;
}

export interface NftChain {
  readonly name: string;
  /** Present for a base chain (attached to a hook); absent for a regular chain (a jump target). */
  readonly hook?: NftBaseChainHook;
  readonly rules: readonly NftRule[];
}

export interface NftTable {
  readonly chains: readonly NftChain[];
}

const FAMILIES: ReadonlySet<string> = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const CHAIN_TYPES: ReadonlySet<string> = new Set(['filter', 'nat', 'route']);
const HOOKS: ReadonlySet<string> = new Set(['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress']);
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * Makes the table `family name` in the namespace exactly `table`, atomically. On any error
 * (malformed rule, unknown statement) nothing changes and a KernelError ENFT carries nft's message.
 */
export async function replaceTable(
  netnsPath: string | null,
  family: NftFamily,
  name: string,
  table: NftTable,
): Promise<void> {
  const ctx = { operation: 'replace nft table', object: `${family} ${name}`, netns: netnsPath };
  const id = checkTableId(family, name, ctx);
  checkTable(table, ctx);
  const commands: unknown[] = [{ add: { table: id } }, { delete: { table: id } }, { add: { table: id } }];
  for (const chain of table.chains) {
    const h = chain.hook;
    commands.push({
      add: {
        chain: {
          family,
          table: name,
          name: chain.name,
          ...(h ? { type: h.type, hook: h.hook, prio: h.priority, policy: h.policy } : {}),
        },
      },
    });
  }
  for (const chain of table.chains) {
    for (const rule of chain.rules)
      commands.push({ add: { rule: { family, table: name, chain: chain.name, expr: rule } } });
  }
  await runNftJson(netnsPath, { nftables: commands }, ctx);
}

/** The table as NftTable (chains in creation order, rules in order), or null when it does not exist. */
export async function readTable(netnsPath: string | null, family: NftFamily, name: string): Promise<NftTable | null> {
  const ctx = { operation: 'read nft table', object: `${family} ${name}`, netns: netnsPath };
  const id = checkTableId(family, name, ctx);
  let out: string;
  try {
    out = await runNftJson(netnsPath, { nftables: [{ list: { table: id } }] }, ctx);
  } catch (e) {
    if (e instanceof KernelError && /No such file or directory/.test(e.detail ?? '')) return null;
    throw e;
  }
  return parseListing(out, family, name, ctx);
}

/** Deletes the table; no error when it does not exist (one transaction: add, then delete). */
export async function deleteTable(netnsPath: string | null, family: NftFamily, name: string): Promise<void> {
  const ctx = { operation: 'delete nft table', object: `${family} ${name}`, netns: netnsPath };
  const id = checkTableId(family, name, ctx);
  await runNftJson(netnsPath, { nftables: [{ add: { table: id } }, { delete: { table: id } }] }, ctx);
}

// ---- internals ----

function checkTableId(
  family: NftFamily,
  name: string,
  ctx: Omit<KernelErrorContext, 'field'>,
): { family: NftFamily; name: string } {
  if (!FAMILIES.has(family))
    throw invalidArgument(ctx, 'family', `'${String(family)}' is not an nftables family (${[...FAMILIES].join(', ')})`);
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw invalidArgument(ctx, 'name', `'${String(name)}' is not a table name (1..64 of [A-Za-z0-9_.-])`);
  return { family, name };
}

function checkTable(table: NftTable, ctx: Omit<KernelErrorContext, 'field'>): void {
  if (typeof table !== 'object' || table === null || !Array.isArray(table.chains))
    throw invalidArgument(ctx, 'table', 'must be { chains: [...] }');
  const seen = new Set<string>();
  table.chains.forEach((chain, i) => {
    const at = `chains[${i}]`;
    if (typeof chain?.name !== 'string' || !NAME_RE.test(chain.name))
      throw invalidArgument(ctx, `${at}.name`, `'${String(chain?.name)}' is not a chain name`);
    if (seen.has(chain.name)) throw invalidArgument(ctx, `${at}.name`, `'${chain.name}' appears twice`);
    seen.add(chain.name);
    const h = chain.hook;
    if (h !== undefined) {
      if (!CHAIN_TYPES.has(h.type))
        throw invalidArgument(ctx, `${at}.hook.type`, `'${String(h.type)}' is not filter, nat or route`);
      if (!HOOKS.has(h.hook))
        throw invalidArgument(ctx, `${at}.hook.hook`, `'${String(h.hook)}' is not a hook (${[...HOOKS].join(', ')})`);
      if (!Number.isInteger(h.priority) || Math.abs(h.priority) > 0x7fffffff)
        throw invalidArgument(ctx, `${at}.hook.priority`, `${String(h.priority)} is not an integer priority`);
      if (h.policy !== 'accept' && h.policy !== 'drop')
        throw invalidArgument(ctx, `${at}.hook.policy`, `'${String(h.policy)}' is not accept or drop`);
    }
    const rules: readonly NftRule[] = chain.rules;
    if (!Array.isArray(rules)) throw invalidArgument(ctx, `${at}.rules`, 'must be an array of rules');
    rules.forEach((rule: NftRule, j: number) => {
      if (
        !Array.isArray(rule) ||
        rule.length === 0 ||
        rule.some((s) => typeof s !== 'object' || s === null || Array.isArray(s))
      ) {
        throw invalidArgument(
          ctx,
          `${at}.rules[${j}]`,
          'must be a non-empty array of statement objects (libnftables-json expr)',
        );
      }
    });
  });
}

/** nft's JSON listing is read field by field, each checked or cast where it is used. */
// biome-ignore lint/suspicious/noExplicitAny: nft's listing is foreign JSON, checked where read
type NftJsonObject = Record<string, any>;

function parseListing(out: string, family: NftFamily, name: string, ctx: Omit<KernelErrorContext, 'field'>): NftTable {
  let doc: { nftables?: NftJsonObject[] };
  try {
    doc = JSON.parse(out) as typeof doc;
  } catch {
    throw new KernelError(
      'ENFT',
      { ...ctx, detail: out.slice(0, MAX_DETAIL) },
      'nft printed something that is not JSON',
    );
  }
  const chains: Array<{ name: string; hook?: NftBaseChainHook; rules: NftRule[] }> = [];
  const byName = new Map<string, NftRule[]>();
  for (const item of doc.nftables ?? []) {
    const c = item.chain as NftJsonObject | undefined;
    if (c && c.family === family && c.table === name) {
      const rules: NftRule[] = [];
      byName.set(c.name as string, rules);
      const hook: NftBaseChainHook | undefined =
        c.hook !== undefined
          ? { type: c.type, hook: c.hook, priority: c.prio, policy: c.policy ?? 'accept' }
          : undefined;
      chains.push({ name: c.name as string, ...(hook ? { hook } : {}), rules });
    }
  }
  for (const item of doc.nftables ?? []) {
    const r = item.rule as NftJsonObject | undefined;
    if (r && r.family === family && r.table === name) byName.get(r.chain as string)?.push(r.expr as NftRule);
  }
  return { chains };
}

/** The addon's libnftables entry (native/nft_addon.cc); binding.ts does not type it (not ours). */
type NftRun = (
  netnsPath: string | null,
  commands: string,
) => Promise<{ status: number; output: string; error: string }>;

let library: NftRun | null | undefined;

function libraryRunner(): NftRun | null {
  if (library !== undefined) return library;
  const addon = native() as unknown as { nftRun?: NftRun };
  library = typeof addon.nftRun === 'function' ? addon.nftRun.bind(addon) : null;
  if (library === null)
    console.error(
      'zmesh: the native addon has no libnftables binding (rebuild it): nftables goes through nft(8) processes',
    );
  return library;
}

/** Runs one JSON document through nftables inside the namespace; resolves with what nft printed. */
async function runNftJson(
  netnsPath: string | null,
  doc: unknown,
  ctx: Omit<KernelErrorContext, 'field'>,
): Promise<string> {
  const run = libraryRunner();
  if (run === null) return spawnNftJson(netnsPath, doc, ctx);
  let result: Awaited<ReturnType<NftRun>>;
  try {
    result = await run(netnsPath, JSON.stringify(doc));
  } catch (e) {
    // The namespace could not be entered (gone, not a namespace) or no thread could be started.
    throw kernelErrorFrom(e, ctx);
  }
  if (result.status === 0) return result.output;
  // Worded as nft(8) would end (status 1), so callers and logs read the same whichever path ran.
  throw new KernelError(
    'ENFT',
    { ...ctx, detail: result.error.trim().slice(0, MAX_DETAIL) },
    'nft exited with status 1',
  );
}

/** The fallback: one nft(8) process per document. */
async function spawnNftJson(
  netnsPath: string | null,
  doc: unknown,
  ctx: Omit<KernelErrorContext, 'field'>,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'zmesh-nft-'));
  const file = join(dir, 'rules.json');
  try {
    writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
    const [cmd, args] =
      netnsPath === null ? [NFT, ['-j', '-f', file]] : [NSENTER, [`--net=${netnsPath}`, NFT, '-j', '-f', file]];
    return await new Promise<string>((resolve, reject) => {
      execFile(cmd, args, { timeout: NFT_TIMEOUT_MS, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const detail = (stderr || err.message).trim().slice(0, MAX_DETAIL);
        const how =
          typeof err.code === 'number'
            ? `nft exited with status ${err.code}`
            : `nft failed (${String(err.code ?? err.signal)})`;
        reject(new KernelError('ENFT', { ...ctx, detail }, how));
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
