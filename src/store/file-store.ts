/**
 * The file store (`file:DIR`), the embedded default for one machine: a network is DIR/<name>.json
 * — the very definition file the tool always wrote — and a node record DIR/nodes/<id>.json.
 * Writes are atomic (temp file, fsync, rename). The compare-and-swap re-reads the file's
 * revision just before the rename: enough for one operator's shell, not a lock for a fleet (use
 * etcd for that).
 */

import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeFileDurably, writeFileAtomic } from '../common/atomic-file.js';
import { type NetworkDefinition, type NodeRecord, parseNetworkDefinition } from '../netdef/index.js';
import { StoreError } from './errors.js';
import type { DefinitionChange, DefinitionStore, EditResult, StoreSnapshot } from './store.js';
import { readNodeRecordValue } from './values.js';

const DEFINITION_MODE = 0o644;
const MAX_ATTEMPTS = 20;

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Parses a definition file; a bad one is EBADVALUE naming the file and the JSON path. */
export function parseDefinitionText(path: string, text: string): NetworkDefinition {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoreError('EBADVALUE', `bad value at ${path}: not JSON (${(error as Error).message})`, { key: path });
  }
  const result = parseNetworkDefinition(value);
  if (!result.ok) {
    const issue = result.errors[0];
    throw new StoreError('EBADVALUE', `bad value at ${path}: ${issue?.path || '/'}: ${issue?.message ?? 'invalid'}`, {
      key: path,
      path: issue?.path ?? '',
    });
  }
  return result.value;
}

export class FileStore implements DefinitionStore {
  readonly kind = 'file';
  readonly description: string;
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.description = `file:${dir}`;
  }

  definitionPath(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  private recordPath(id: string): string {
    return join(this.dir, 'nodes', `${id}.json`);
  }

  async readNetwork(name: string): Promise<NetworkDefinition | null> {
    const path = this.definitionPath(name);
    const text = await readText(path);
    if (text === null) return null;
    const def = parseDefinitionText(path, text);
    if (def.name !== name)
      throw new StoreError('EBADVALUE', `bad value at ${path}: /name: "${def.name}" is not "${name}"`, {
        key: path,
        path: '/name',
      });
    return def;
  }

  async listNetworks(): Promise<string[]> {
    try {
      return (await readdir(this.dir))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async createNetwork(def: NetworkDefinition, opts: { replace?: boolean } = {}): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    try {
      await writeFileAtomic(this.definitionPath(def.name), `${JSON.stringify(def, null, 2)}\n`, {
        mode: DEFINITION_MODE,
        exclusive: opts.replace !== true,
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new StoreError('EEXISTS', `network "${def.name}" already exists in ${this.description}`, {
          network: def.name,
        });
      }
      throw error;
    }
  }

  async editNetwork(name: string, change: DefinitionChange): Promise<EditResult> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const before = await this.readNetwork(name);
      if (!before) throw new StoreError('ENOTFOUND', `no network "${name}" in ${this.description}`, { network: name });
      const after = await change(before);
      const now = await this.readNetwork(name);
      if (now?.revision !== before.revision) continue; // another writer: re-read and re-apply
      await writeFileAtomic(this.definitionPath(name), `${JSON.stringify(after, null, 2)}\n`, {
        mode: DEFINITION_MODE,
      });
      return { before, after, attempts: attempt };
    }
    throw new StoreError('ECONFLICT', `network "${name}" kept changing: gave up after ${MAX_ATTEMPTS} attempts`, {
      network: name,
    });
  }

  async deleteNetwork(name: string): Promise<void> {
    if ((await readText(this.definitionPath(name))) === null) {
      throw new StoreError('ENOTFOUND', `no network "${name}" in ${this.description}`, { network: name });
    }
    await removeFileDurably(this.definitionPath(name));
  }

  async putNodeRecord(record: NodeRecord): Promise<void> {
    await mkdir(join(this.dir, 'nodes'), { recursive: true });
    await writeFileAtomic(this.recordPath(record.id), `${JSON.stringify(record, null, 2)}\n`, {
      mode: DEFINITION_MODE,
    });
  }

  async readNodeRecord(id: string): Promise<NodeRecord | null> {
    const path = this.recordPath(id);
    const text = await readText(path);
    return text === null ? null : readNodeRecordValue(path, text, id);
  }

  async snapshot(): Promise<StoreSnapshot> {
    const networks: NetworkDefinition[] = [];
    for (const name of await this.listNetworks()) {
      const def = await this.readNetwork(name);
      if (def) networks.push(def);
    }
    let ids: string[] = [];
    try {
      ids = (await readdir(join(this.dir, 'nodes')))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const records: NodeRecord[] = [];
    for (const id of ids) {
      const record = await this.readNodeRecord(id);
      if (record) records.push(record);
    }
    return { revision: 0, networks, records };
  }

  async close(): Promise<void> {}
}
