/**
 * `zmesh store export/import`: a versioned dump of what the operator defined — every network
 * definition and node record — read at one revision. Nodes' own keys (alive, status) are not in
 * it: nodes rewrite them. The same dump moves between kinds (file: ↔ etcd://).
 *
 * Import writes only what differs: a network already stored with identical content is left
 * alone (no write, no watch event), and one stored at the same revision is what the nodes run, so
 * importing what the fleet already runs makes no node apply anything. A network whose dumped
 * revision is older than what a node applied is refused by that node (reported in `net status`,
 * never rolled back); to roll back on purpose, import with `revisionAbove` set to the highest
 * revision the nodes report: such networks are written at that revision + 1.
 */

import { type NetworkDefinition, type NodeRecord, parseNetworkDefinition, parseNodeRecord } from '../netdef/index.js';
import { metaOf } from './assemble.js';
import { StoreError } from './errors.js';
import type { DefinitionStore } from './store.js';

export const DUMP_FORMAT = 'zmesh-store-dump';
export const DUMP_VERSION = 1;

export interface StoreDump {
  readonly format: typeof DUMP_FORMAT;
  readonly version: typeof DUMP_VERSION;
  /** The source store's revision of the read (etcd), 0 for a file store. */
  readonly revision: number;
  readonly source: string;
  readonly exportedAt: string;
  readonly networks: readonly NetworkDefinition[];
  readonly records: readonly NodeRecord[];
}

export async function exportStore(store: DefinitionStore, now = new Date()): Promise<StoreDump> {
  const snapshot = await store.snapshot();
  return {
    format: DUMP_FORMAT,
    version: DUMP_VERSION,
    revision: snapshot.revision,
    source: store.description,
    exportedAt: now.toISOString(),
    networks: snapshot.networks,
    records: snapshot.records,
  };
}

/** Validates a dump: its header, and every definition and record as netdef does (path named). */
export function parseDump(text: string, file: string): StoreDump {
  const bad = (path: string, reason: string) => new StoreError('EDUMP', `${file}#${path}: ${reason}`, { path });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw bad('/', `not JSON (${(error as Error).message})`);
  }
  const dump = value as Partial<Record<keyof StoreDump, unknown>>;
  if (typeof value !== 'object' || value === null || dump.format !== DUMP_FORMAT)
    throw bad('/format', `not a ${DUMP_FORMAT} file`);
  if (dump.version !== DUMP_VERSION)
    throw bad('/version', `version ${JSON.stringify(dump.version)} is not one this zmesh reads (${DUMP_VERSION})`);
  if (!Number.isSafeInteger(dump.revision) || (dump.revision as number) < 0)
    throw bad('/revision', 'expected a revision ≥ 0');
  if (!Array.isArray(dump.networks)) throw bad('/networks', 'expected an array');
  if (!Array.isArray(dump.records)) throw bad('/records', 'expected an array');
  const networks = dump.networks.map((n, i) => {
    const r = parseNetworkDefinition(n);
    if (!r.ok) throw bad(`/networks/${i}${r.errors[0]?.path ?? ''}`, r.errors[0]?.message ?? 'invalid');
    return r.value;
  });
  const names = new Set<string>();
  networks.forEach((n, i) => {
    if (names.has(n.name)) throw bad(`/networks/${i}/name`, `network "${n.name}" twice`);
    names.add(n.name);
  });
  const records = dump.records.map((n, i) => {
    const r = parseNodeRecord(n);
    if (!r.ok) throw bad(`/records/${i}${r.errors[0]?.path ?? ''}`, r.errors[0]?.message ?? 'invalid');
    return r.value;
  });
  return {
    format: DUMP_FORMAT,
    version: DUMP_VERSION,
    revision: dump.revision as number,
    source: String(dump.source ?? ''),
    exportedAt: String(dump.exportedAt ?? ''),
    networks,
    records,
  };
}

export interface ImportReport {
  readonly written: readonly string[];
  readonly unchanged: readonly string[];
  readonly records: number;
}

/** Same content: the meta (name, revision, range, roles) and the resources' digest (field order fixed). */
function sameDefinition(a: NetworkDefinition, b: NetworkDefinition): boolean {
  return JSON.stringify(metaOf(a)) === JSON.stringify(metaOf(b));
}

function sameRecord(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.id === b.id &&
    a.identityKey === b.identityKey &&
    a.hidden === b.hidden &&
    JSON.stringify(a.endpoints) === JSON.stringify(b.endpoints)
  );
}

export async function importDump(
  store: DefinitionStore,
  dump: StoreDump,
  opts: { revisionAbove?: number } = {},
): Promise<ImportReport> {
  const written: string[] = [];
  const unchanged: string[] = [];
  for (const def of dump.networks) {
    const floor = opts.revisionAbove;
    const target =
      floor !== undefined && def.revision <= floor ? ({ ...def, revision: floor + 1 } as NetworkDefinition) : def;
    const current = await store.readNetwork(def.name).catch((e: unknown) => {
      if (e instanceof StoreError && e.code === 'EBADVALUE') return null; // replaced by the import
      throw e;
    });
    if (current && sameDefinition(current, target)) {
      unchanged.push(def.name);
      continue;
    }
    await store.createNetwork(target, { replace: true });
    written.push(def.name);
  }
  for (const record of dump.records) {
    const current = await store.readNodeRecord(record.id).catch(() => null);
    if (!current || !sameRecord(current, record)) await store.putNodeRecord(record);
  }
  return { written, unchanged, records: dump.records.length };
}
