/**
 * One apply's (or inspection's) access to the kernel: namespace paths resolved once (the host is
 * the namespace networkd was told to treat as the node's, null meaning its own), and one Rtnl per
 * namespace, opened on first use and closed at the end — never one socket per step.
 */
import { existsSync } from 'node:fs';
import { Rtnl, namespaceExists, namespacePath } from './kernel/index.js';
import type { NetnsRef } from './model.js';
import { netnsKey } from './model.js';

export class KernelSession {
  readonly #hostNetnsPath: string | null;
  readonly #rtnls = new Map<string, Rtnl>();

  constructor(hostNetnsPath: string | null) {
    this.#hostNetnsPath = hostNetnsPath;
  }

  /** The path to enter for this namespace (null: networkd's own namespace). */
  path(ref: NetnsRef): string | null {
    if (ref.kind === 'path') return ref.path;
    return ref.kind === 'host' ? this.#hostNetnsPath : namespacePath(ref.name);
  }

  exists(ref: NetnsRef): boolean {
    if (ref.kind === 'path') return existsSync(ref.path);
    return ref.kind === 'host' || namespaceExists(ref.name);
  }

  rtnl(ref: NetnsRef): Rtnl {
    const key = netnsKey(ref);
    let rtnl = this.#rtnls.get(key);
    if (!rtnl) {
      rtnl = Rtnl.open(this.path(ref));
      this.#rtnls.set(key, rtnl);
    }
    return rtnl;
  }

  /** Drops the socket of a namespace that is being deleted. */
  forget(ref: NetnsRef): void {
    const key = netnsKey(ref);
    this.#rtnls.get(key)?.close();
    this.#rtnls.delete(key);
  }

  close(): void {
    for (const rtnl of this.#rtnls.values()) rtnl.close();
    this.#rtnls.clear();
  }
}
