/**
 * Remembers the nft tables this process last read or wrote per namespace, tagged with the
 * namespace's nftables generation (nft-generation.ts) and identity (nsfs inode). A table is taken
 * from memory only while the generation is unchanged — i.e. nothing in that namespace's nftables
 * was committed since — so drift made by anyone is still seen, and a no-op reconcile does not
 * spawn one nft(8) per table. Any doubt (unreadable generation, a commit by someone else between
 * ours and the read-back) means: read the table.
 */
import { namespaceId } from './kernel/index.js';
import { type TableReader, alwaysRead } from './inspect.js';
import type { NetnsRef } from './model.js';
import type { NftTable } from './nft.js';
import { nftGeneration, nftGenerationAfterCommit } from './nft-generation.js';
import type { KernelSession } from './session.js';

interface Entry {
  readonly identity: number;
  readonly generation: number;
  /** "family name" → the table (null: known absent). */
  readonly tables: Map<string, NftTable | null>;
}

function identityOf(path: string | null): number | null {
  try {
    return namespaceId(path);
  } catch {
    return null;
  }
}

/** Reads a namespace's nftables generation (null: unreadable). */
export type GenerationReader = (path: string | null) => Promise<number | null>;

export class NftCache implements TableReader {
  readonly #entries = new Map<string, Entry>();
  readonly #generation: GenerationReader;
  readonly #generationAfterCommit: GenerationReader;

  /** `generation`: how to read it (NamespaceWatches keeps a socket per namespace); by default one socket per read. */
  constructor(generation?: GenerationReader) {
    this.#generation = generation ?? nftGeneration;
    this.#generationAfterCommit = generation ?? nftGenerationAfterCommit;
  }

  async read(
    session: KernelSession,
    netns: NetnsRef,
    family: NftTable['family'],
    name: string,
  ): Promise<NftTable | null> {
    const path = session.path(netns);
    const key = path ?? '(own)';
    const identity = identityOf(path);
    const generation = await this.#generation(path);
    const tableKey = `${family} ${name}`;
    const entry = this.#entries.get(key);
    const valid =
      entry !== undefined &&
      identity !== null &&
      generation !== null &&
      entry.identity === identity &&
      entry.generation === generation;
    if (valid && entry.tables.has(tableKey)) return entry.tables.get(tableKey) ?? null;
    const table = await alwaysRead.read(session, netns, family, name);
    if (identity !== null && generation !== null) {
      const tables = valid ? entry.tables : new Map<string, NftTable | null>();
      tables.set(tableKey, table);
      this.#entries.set(key, { identity, generation, tables });
    }
    return table;
  }

  /** Runs `replace` (which makes the table exactly `table`) and records the result. */
  async replaced(
    session: KernelSession,
    netns: NetnsRef,
    table: NftTable,
    replace: () => Promise<void>,
  ): Promise<void> {
    const path = session.path(netns);
    const key = path ?? '(own)';
    const before = await this.#generation(path);
    await replace();
    const after = await this.#generationAfterCommit(path);
    const identity = identityOf(path);
    const entry = this.#entries.get(key);
    if (before === null || after === null || identity === null || after !== before + 1) {
      this.#entries.delete(key); // someone else committed meanwhile: trust nothing
      return;
    }
    const keep = entry !== undefined && entry.identity === identity && entry.generation === before;
    const tables = keep ? entry.tables : new Map<string, NftTable | null>();
    tables.set(`${table.family} ${table.name}`, table);
    this.#entries.set(key, { identity, generation: after, tables });
  }

  /** A namespace created or deleted: whatever was known about it is void. */
  forget(session: KernelSession, netns: NetnsRef): void {
    this.#entries.delete(session.path(netns) ?? '(own)');
  }
}
