/**
 * networkd's persistent desired state, in D/networkd/ (0700), as JSON files replaced atomically:
 *
 *   networks/<name>.json   the accepted definition, netId, the NR's public address
 *                          (100.127.X.Y, allocated once) and the last good address of every
 *                          endpoint host name
 *   workloads/<name>.json  the network's attached workloads (id → netns, ifname, ip, link) and
 *                          a bounded record of workloads forgotten by reconcile, with the reason
 *
 * The store is written BEFORE the kernel is changed, so a crash between the two is repaired by
 * reconcile. It is also an edge: files are re-validated when loaded (a definition through netdef),
 * and a file that does not parse stops the start with an error naming it, rather than letting
 * reconcile garbage-collect the network it describes. No private key is ever stored here.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type NetworkDefinition, netIdOf, parseNetworkDefinition } from '../netdef/index.js';
import { prepareDirectory, removeFileDurably, writeFileAtomic, type AtomicWriteHooks } from '../common/atomic-file.js';
import { NetworkdError } from './errors.js';
import { API_OWNER, CONTAINER_ID, type WorkloadOwner } from './workload-owner.js';
import type { NetnsIdentity } from './workload-namespace.js';

export const STORE_VERSION = 1;
/** Forgotten-workload notes kept per network. */
const MAX_FORGOTTEN = 32;

export interface StoredNetwork {
  readonly name: string;
  readonly netId: string;
  readonly definition: NetworkDefinition;
  /** The NR's address on the ndmz bridge, 100.127.X.Y; never changes for the network's life here. */
  readonly publicAddress: string;
  /** Last good address of each endpoint host name (DNS cache that survives restarts). */
  readonly resolved: Readonly<Record<string, string>>;
}

export interface StoredWorkload {
  readonly workload: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ip: string;
  /** The NR end of the veth, `wl-<hash6>`. */
  readonly link: string;
  /** What `netns` named at attach time (null in records written before it was kept): a path that
   *  names another namespace now (a reused PID) is no longer this workload's. */
  readonly netnsIdentity: NetnsIdentity | null;
  /** Stored as `owner` ("api" or "cni") and, for "cni", `containerId`; absent in older files: "api". */
  readonly owner: WorkloadOwner;
}

export interface ForgottenWorkload {
  readonly workload: string;
  readonly reason: string;
  readonly at: string;
}

export interface StoredWorkloads {
  readonly network: string;
  readonly workloads: Readonly<Record<string, StoredWorkload>>;
  readonly forgotten: readonly ForgottenWorkload[];
}

export function emptyWorkloads(network: string): StoredWorkloads {
  return { network, workloads: {}, forgotten: [] };
}

/** Adds a forgotten note, keeping the newest MAX_FORGOTTEN. */
export function withForgotten(state: StoredWorkloads, note: ForgottenWorkload): StoredWorkloads {
  const { [note.workload]: _gone, ...rest } = state.workloads;
  return { network: state.network, workloads: rest, forgotten: [...state.forgotten, note].slice(-MAX_FORGOTTEN) };
}

function corrupt(file: string, reason: string): NetworkdError {
  return new NetworkdError(
    'EINTERNAL',
    `state file ${file} is unusable: ${reason} (fix or remove it; networkd will not guess)`,
    { field: file },
  );
}

function readJson(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw corrupt(
      file,
      error instanceof SyntaxError ? 'not JSON' : `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(file, 'not a JSON object');
  const record = value as Record<string, unknown>;
  if (record.version !== STORE_VERSION) throw corrupt(file, `version is not ${STORE_VERSION}`);
  return record;
}

const isString = (v: unknown): v is string => typeof v === 'string';

function loadNetwork(file: string, expectedName: string): StoredNetwork {
  const record = readJson(file);
  const parsed = parseNetworkDefinition(record.definition);
  if (!parsed.ok)
    throw corrupt(file, `definition invalid at ${parsed.errors[0]?.path || '/'}: ${parsed.errors[0]?.message ?? ''}`);
  const definition = parsed.value;
  if (definition.name !== expectedName) throw corrupt(file, `holds network "${definition.name}"`);
  if (!isString(record.publicAddress)) throw corrupt(file, 'publicAddress missing');
  const resolved: Record<string, string> = {};
  if (typeof record.resolved === 'object' && record.resolved !== null) {
    for (const [host, address] of Object.entries(record.resolved)) if (isString(address)) resolved[host] = address;
  }
  return {
    name: definition.name,
    netId: netIdOf(definition.name),
    definition,
    publicAddress: record.publicAddress,
    resolved,
  };
}

function loadWorkloads(file: string, network: string): StoredWorkloads {
  const record = readJson(file);
  const workloads: Record<string, StoredWorkload> = {};
  const raw = record.workloads;
  if (typeof raw !== 'object' || raw === null) throw corrupt(file, 'workloads missing');
  for (const [id, w] of Object.entries(raw as Record<string, unknown>)) {
    const entry = w as Record<string, unknown>;
    if (![entry.netns, entry.ifname, entry.ip, entry.link].every(isString) || entry.workload !== id)
      throw corrupt(file, `workload ${id} malformed`);
    workloads[id] = {
      workload: id,
      netns: entry.netns as string,
      ifname: entry.ifname as string,
      ip: entry.ip as string,
      link: entry.link as string,
      owner: loadOwner(entry, () => corrupt(file, `workload ${id} owner malformed`)),
      netnsIdentity: loadIdentity(entry.netnsIdentity, () => corrupt(file, `workload ${id} netnsIdentity malformed`)),
    };
  }
  const forgotten = Array.isArray(record.forgotten)
    ? ((record.forgotten as Record<string, unknown>[]).filter(
        (f) => isString(f.workload) && isString(f.reason) && isString(f.at),
      ) as unknown as ForgottenWorkload[])
    : [];
  return { network, workloads, forgotten };
}

function loadOwner(entry: Record<string, unknown>, malformed: () => NetworkdError): WorkloadOwner {
  if (entry.owner === undefined || entry.owner === 'api') return API_OWNER;
  if (entry.owner === 'cni' && isString(entry.containerId) && CONTAINER_ID.test(entry.containerId))
    return { kind: 'cni', containerId: entry.containerId };
  throw malformed();
}

/** A workload as its file holds it: the owner flattened to `owner` and `containerId`. */
function workloadJson(workload: StoredWorkload): object {
  const { owner, ...rest } = workload;
  return { ...rest, owner: owner.kind, ...(owner.kind === 'cni' ? { containerId: owner.containerId } : {}) };
}

function loadIdentity(value: unknown, malformed: () => NetworkdError): NetnsIdentity | null {
  if (value === undefined || value === null) return null;
  const v = value as Record<string, unknown>;
  if (
    typeof v !== 'object' ||
    !isString(v.dev) ||
    !isString(v.ino) ||
    !(v.processStart === null || isString(v.processStart))
  )
    throw malformed();
  return { dev: v.dev, ino: v.ino, processStart: v.processStart };
}

export class Store {
  readonly dir: string;
  readonly #networksDir: string;
  readonly #workloadsDir: string;
  readonly #networks = new Map<string, StoredNetwork>();
  readonly #workloads = new Map<string, StoredWorkloads>();
  /** Fault injection for tests (crash between temporary file and rename). */
  hooks: AtomicWriteHooks = {};

  private constructor(dir: string) {
    this.dir = dir;
    this.#networksDir = join(dir, 'networks');
    this.#workloadsDir = join(dir, 'workloads');
  }

  /** Opens (creating) the store in `dir` and loads every file; throws naming an unusable file. */
  static open(dir: string): Store {
    const store = new Store(dir);
    prepareDirectory(dir);
    prepareDirectory(store.#networksDir);
    prepareDirectory(store.#workloadsDir);
    for (const name of readdirSync(store.#networksDir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const network = name.slice(0, -'.json'.length);
      store.#networks.set(network, loadNetwork(join(store.#networksDir, name), network));
      const workloadsFile = join(store.#workloadsDir, name);
      store.#workloads.set(
        network,
        existsSync(workloadsFile) ? loadWorkloads(workloadsFile, network) : emptyWorkloads(network),
      );
    }
    // A workloads file without its network is what a crash in removeNetwork leaves: finish it,
    // so a network created later under the same name never inherits old workloads.
    for (const name of readdirSync(store.#workloadsDir)) {
      if (name.endsWith('.json') && !store.#networks.has(name.slice(0, -'.json'.length)))
        rmSync(join(store.#workloadsDir, name), { force: true });
    }
    return store;
  }

  networks(): StoredNetwork[] {
    return [...this.#networks.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  network(name: string): StoredNetwork | undefined {
    return this.#networks.get(name);
  }

  workloads(network: string): StoredWorkloads {
    return this.#workloads.get(network) ?? emptyWorkloads(network);
  }

  /** Public addresses of every stored NR (for allocation). */
  publicAddresses(): Set<string> {
    return new Set([...this.#networks.values()].map((n) => n.publicAddress));
  }

  async putNetwork(network: StoredNetwork): Promise<void> {
    const text = `${JSON.stringify({ version: STORE_VERSION, name: network.name, netId: network.netId, publicAddress: network.publicAddress, resolved: network.resolved, definition: network.definition }, null, 2)}\n`;
    await writeFileAtomic(join(this.#networksDir, `${network.name}.json`), text, { mode: 0o600, hooks: this.hooks });
    this.#networks.set(network.name, network);
    if (!this.#workloads.has(network.name)) this.#workloads.set(network.name, emptyWorkloads(network.name));
  }

  async putWorkloads(state: StoredWorkloads): Promise<void> {
    const text = `${JSON.stringify({ version: STORE_VERSION, network: state.network, workloads: Object.fromEntries(Object.entries(state.workloads).map(([id, w]) => [id, workloadJson(w)])), forgotten: state.forgotten }, null, 2)}\n`;
    await writeFileAtomic(join(this.#workloadsDir, `${state.network}.json`), text, { mode: 0o600, hooks: this.hooks });
    this.#workloads.set(state.network, state);
  }

  /** Forgets a network and its workloads (files first, so a crash after this is a GC for reconcile). */
  async removeNetwork(name: string): Promise<void> {
    await removeFileDurably(join(this.#workloadsDir, `${name}.json`));
    await removeFileDurably(join(this.#networksDir, `${name}.json`));
    this.#networks.delete(name);
    this.#workloads.delete(name);
  }
}
