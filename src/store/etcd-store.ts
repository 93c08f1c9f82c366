/**
 * The etcd store: networks split over one meta key and one key per NR (keys.ts), edited by
 * compare-and-swap on the meta key's mod revision in one transaction that writes only the keys
 * that changed (meta + the NRs touched: O(1) for every verb). Reads are range reads of one
 * network's prefix at one revision, checked value by value and assembled through netdef.
 */

import type { Etcd3, IKeyValue } from 'etcd3';
import type { NetworkDefinition, NodeRecord } from '../netdef/index.js';
import { assembleDefinition, metaWithResources, resourceChanges, storedResourcesOf } from './assemble.js';
import { connectEtcd, rangePrefix, storeErrorOf } from './etcd-client.js';
import { StoreError } from './errors.js';
import { NETWORKS, PREFIX, metaKey, networkPrefix, nodeRecordKey, parseKey, resourceKey } from './keys.js';
import type { DefinitionChange, DefinitionStore, EditResult, StoreSnapshot } from './store.js';
import type { StoreEndpoints } from './endpoint-resolver.js';
import { describeLocation, type EtcdLocation } from './url.js';
import { type NetworkMeta, type StoredResource, readMeta, readNodeRecordValue, readResource } from './values.js';

const MAX_ATTEMPTS = 50;
/** etcd's default --max-txn-ops is 128: larger writes go in staged batches (see writeStaged). */
export const MAX_TXN_OPS = 128;

/** A network as stored: its meta (with the mod revision the CAS compares), its NRs and the definition. */
export interface StoredNetwork {
  readonly meta: NetworkMeta;
  readonly metaModRevision: string;
  readonly resources: readonly StoredResource[];
  readonly definition: NetworkDefinition;
}

/** Assembles the networks found in `kvs` (keys under networks/); a bad network is an error entry. */
export function networksOf(kvs: readonly IKeyValue[]): Map<string, StoredNetwork | StoreError> {
  const metas = new Map<string, IKeyValue>();
  const resources = new Map<string, IKeyValue[]>();
  for (const kv of kvs) {
    const parsed = parseKey(kv.key.toString());
    if (parsed.kind === 'meta') metas.set(parsed.network, kv);
    else if (parsed.kind === 'resource') resources.set(parsed.network, [...(resources.get(parsed.network) ?? []), kv]);
  }
  const out = new Map<string, StoredNetwork | StoreError>();
  for (const [name, metaKv] of metas) {
    try {
      out.set(name, assembleStored(name, metaKv, resources.get(name) ?? []));
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      out.set(name, error);
    }
  }
  return out;
}

function assembleStored(name: string, metaKv: IKeyValue, resourceKvs: readonly IKeyValue[]): StoredNetwork {
  const key = metaKey(name);
  const meta = readMeta(key, metaKv.value.toString(), name);
  const stored = resourceKvs.map((kv) => {
    const parsed = parseKey(kv.key.toString());
    const node = parsed.kind === 'resource' ? parsed.node : '';
    return readResource(kv.key.toString(), kv.value.toString(), node);
  });
  const definition = assembleDefinition(key, meta, stored);
  return { meta, metaModRevision: metaKv.mod_revision, resources: stored, definition };
}

export class EtcdStore implements DefinitionStore {
  readonly kind = 'etcd';
  readonly description: string;
  readonly location: EtcdLocation;
  #client: Etcd3;
  readonly #endpoints: StoreEndpoints | null;
  /** One resolution at a time: the agent's timer and its re-list may ask together. */
  #refreshing: Promise<unknown> = Promise.resolve();

  /**
   * With `endpoints`, refreshEndpoints() resolves the URL's host names and hands the client their
   * addresses; without, grpc resolves them per connection attempt (the tool's short runs).
   */
  constructor(location: EtcdLocation, options: { client?: Etcd3; endpoints?: StoreEndpoints } = {}) {
    this.location = location;
    this.description = describeLocation(location);
    this.#client = options.client ?? connectEtcd(location);
    this.#endpoints = options.endpoints?.hasNames ? options.endpoints : null;
  }

  /** The current client: refreshEndpoints() replaces it when the addresses change. */
  get client(): Etcd3 {
    return this.#client;
  }

  /**
   * Resolves the endpoints' names again; when the addresses changed, the client is replaced by one
   * for the new addresses (the old one closed: its watches and leases end and are re-made by their
   * owners). Failed names keep their last good address. Returns whether the client was replaced.
   * Calls run one after another.
   */
  refreshEndpoints(): Promise<boolean> {
    const run = this.#refreshing.then(() => this.#refresh());
    this.#refreshing = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async #refresh(): Promise<boolean> {
    if (this.#endpoints === null) return false;
    const { addresses, changed } = await this.#endpoints.resolve();
    if (!changed || addresses.length === 0) return false;
    const old = this.#client;
    this.#client = connectEtcd({ ...this.location, endpoints: addresses });
    old.close();
    return true;
  }

  /** Runs one store call; etcd failures become StoreErrors that say what was being done. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw storeErrorOf(error, what, this.description);
    }
  }

  async readStored(name: string): Promise<StoredNetwork | null> {
    const { kvs } = await this.call(`read network "${name}"`, () => rangePrefix(this.client, networkPrefix(name)));
    const found = networksOf(kvs).get(name);
    if (found instanceof StoreError) throw found;
    return found ?? null;
  }

  async readNetwork(name: string): Promise<NetworkDefinition | null> {
    return (await this.readStored(name))?.definition ?? null;
  }

  async listNetworks(): Promise<string[]> {
    const keys = await this.call('list networks', () => this.client.getAll().prefix(NETWORKS).keys());
    return keys
      .map(parseKey)
      .flatMap((k) => (k.kind === 'meta' ? [k.network] : []))
      .sort();
  }

  async createNetwork(def: NetworkDefinition, opts: { replace?: boolean } = {}): Promise<void> {
    const existing = await this.readStored(def.name).catch((e: unknown) => {
      if (e instanceof StoreError && e.code === 'EBADVALUE' && opts.replace) return null; // replaced anyway
      throw e;
    });
    if (existing && !opts.replace)
      throw new StoreError('EEXISTS', `network "${def.name}" already exists in ${this.description}`, {
        network: def.name,
      });
    const stored = storedResourcesOf(def);
    const guard = existing ? { modRevision: existing.metaModRevision } : { absent: true as const };
    // With replace, whatever was there goes: resources of the old definition that the new one lacks included.
    const removed = opts.replace
      ? (existing?.resources ?? [])
          .filter((s) => !def.resources.some((r) => r.node === s.resource.node))
          .map((s) => s.resource.node)
      : [];
    const won = await this.writeNetwork(def.name, guard, stored, removed, metaWithResources(def, def.resources));
    if (won) return;
    // Another writer created (or changed) the network between our read and our write.
    if (!existing && !opts.replace)
      throw new StoreError('EEXISTS', `network "${def.name}" already exists in ${this.description}`, {
        network: def.name,
      });
    throw new StoreError('ECONFLICT', `network "${def.name}" changed by another writer while being written`, {
      network: def.name,
    });
  }

  async editNetwork(name: string, change: DefinitionChange): Promise<EditResult> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const current = await this.readStored(name);
      if (!current) throw new StoreError('ENOTFOUND', `no network "${name}" in ${this.description}`, { network: name });
      const after = await change(current.definition);
      const changes = resourceChanges(current.resources, after);
      const ordered = [...changes.stored].sort((a, b) => a.position - b.position).map((s) => s.resource);
      const won = await this.writeNetwork(
        name,
        { modRevision: current.metaModRevision },
        changes.put,
        changes.remove,
        metaWithResources(after, ordered),
      );
      if (won) return { before: current.definition, after, attempts: attempt };
      // Lost the race: another writer changed the network. Back off a little, re-read, re-apply.
      await new Promise((r) => setTimeout(r, Math.random() * 20 * Math.min(attempt, 10)));
    }
    throw new StoreError('ECONFLICT', `network "${name}" kept changing: gave up after ${MAX_ATTEMPTS} attempts`, {
      network: name,
    });
  }

  /**
   * Writes meta + NR puts/removals if the meta is still as read (`guard`). One transaction when it
   * fits etcd's op limit; otherwise the NRs go in guarded batches first and the meta last, so a
   * reader sees the old meta (and a digest mismatch, never a mix passed off as valid) until the end.
   * Returns false when the guard failed (another writer won).
   */
  private async writeNetwork(
    name: string,
    guard: { modRevision: string } | { absent: true },
    put: readonly StoredResource[],
    remove: readonly string[],
    meta: NetworkMeta,
  ): Promise<boolean> {
    const mk = metaKey(name);
    const metaText = JSON.stringify(meta);
    const ops = [
      ...put.map((s) => ({ key: resourceKey(name, s.resource.node), value: JSON.stringify(s) })),
      ...remove.map((node) => ({ key: resourceKey(name, node), value: null })),
    ];
    const txn = async (
      batch: readonly { key: string; value: string | null }[],
      withMeta: boolean,
    ): Promise<boolean> => {
      const cmp =
        'absent' in guard ? this.client.if(mk, 'Create', '==', 0) : this.client.if(mk, 'Mod', '==', guard.modRevision);
      const clauses = batch.map((op) =>
        op.value === null ? this.client.delete().key(op.key) : this.client.put(op.key).value(op.value),
      );
      if (withMeta) clauses.push(this.client.put(mk).value(metaText));
      const result = await this.call(`write network "${name}"`, () => cmp.then(...clauses).commit());
      if (result.succeeded || !withMeta) return result.succeeded;
      // etcd3 re-sends a call whose answer was lost (its default policy retries DeadlineExceeded,
      // Unavailable…, txns included): a re-sent txn that had committed fails its own guard. The
      // meta names this write exactly (revision + resources digest), so finding it there means
      // the first send won. (A batch without the meta is idempotent: its guard still holds.)
      const now = await this.call(`read network "${name}"`, () => this.client.get(mk).string());
      return now === metaText;
    };
    if (ops.length + 1 <= MAX_TXN_OPS) return txn(ops, true);
    for (let i = 0; i < ops.length; i += MAX_TXN_OPS - 1) {
      const batch = ops.slice(i, i + MAX_TXN_OPS - 1);
      if (!(await txn(batch, false))) return false;
    }
    return txn([], true);
  }

  async deleteNetwork(name: string): Promise<void> {
    const result = await this.call(`delete network "${name}"`, () =>
      this.client.delete().prefix(networkPrefix(name)).exec(),
    );
    if (Number(result.deleted) === 0)
      throw new StoreError('ENOTFOUND', `no network "${name}" in ${this.description}`, { network: name });
  }

  async putNodeRecord(record: NodeRecord): Promise<void> {
    await this.call(`publish node record "${record.id}"`, () =>
      this.client.put(nodeRecordKey(record.id)).value(JSON.stringify(record)).exec(),
    );
  }

  async readNodeRecord(id: string): Promise<NodeRecord | null> {
    const key = nodeRecordKey(id);
    const text = await this.call(`read node record "${id}"`, () => this.client.get(key).string());
    return text === null ? null : readNodeRecordValue(key, text, id);
  }

  async snapshot(): Promise<StoreSnapshot> {
    const { revision, kvs } = await this.call('read the store', () => rangePrefix(this.client, PREFIX));
    const networks: NetworkDefinition[] = [];
    for (const [, stored] of [...networksOf(kvs)].sort(([a], [b]) => a.localeCompare(b))) {
      if (stored instanceof StoreError) throw stored;
      networks.push(stored.definition);
    }
    const records = kvs.flatMap((kv) => {
      const key = kv.key.toString();
      const parsed = parseKey(key);
      return parsed.kind === 'record' ? [readNodeRecordValue(key, kv.value.toString(), parsed.node)] : [];
    });
    return { revision, networks, records };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
