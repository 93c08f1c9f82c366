/**
 * Named network namespaces (/run/netns/NAME, as ip(8) makes them): create with `lo` up, delete,
 * list, and the path of a name. Creation goes through the addon, which makes the namespace on a
 * short-lived thread, so the caller's thread never changes namespace.
 */
import { existsSync, readdirSync } from 'node:fs';
import { native } from '../../native/binding.js';
import { KernelError, invalidArgument, kernelErrorFrom } from './errors.js';
import { Rtnl } from './rtnl.js';

export const NETNS_DIR = '/run/netns';
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The path of the namespace NAME (whether or not it exists). Throws EINVAL for a bad name. */
export function namespacePath(name: string): string {
  checkNamespaceName(name, 'namespace path');
  return `${NETNS_DIR}/${name}`;
}

export function namespaceExists(name: string): boolean {
  return existsSync(namespacePath(name));
}

/** Names of the namespaces in /run/netns (all of them: filter by your prefix), sorted. */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR)
      .filter((n) => NAME_RE.test(n) && n !== '.' && n !== '..')
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw kernelErrorFrom(e, { operation: 'list namespaces in', object: NETNS_DIR, netns: null });
  }
}

/**
 * Creates the namespace NAME with `lo` up and returns its path. Throws KernelError EEXIST when it
 * exists (use ensureNamespace to accept that). If `lo` cannot be brought up, the namespace is
 * deleted again: a failed call leaves nothing behind.
 */
export async function createNamespace(name: string): Promise<string> {
  checkNamespaceName(name, 'create namespace');
  let path: string;
  try {
    path = native().createNetns(name);
  } catch (e) {
    throw kernelErrorFrom(e, { operation: 'create namespace', object: `'${name}'`, netns: null });
  }
  try {
    const rtnl = Rtnl.open(path);
    try {
      await rtnl.setUp('lo');
    } finally {
      rtnl.close();
    }
  } catch (e) {
    try {
      native().deleteNetns(name);
    } catch {
      // The original failure is the one to report.
    }
    throw kernelErrorFrom(e, { operation: 'bring up lo in new namespace', object: `'${name}'`, netns: path });
  }
  return path;
}

/** createNamespace, or the path of the existing one; `created` says which. */
export async function ensureNamespace(name: string): Promise<{ path: string; created: boolean }> {
  try {
    return { path: await createNamespace(name), created: true };
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EEXIST') return { path: namespacePath(name), created: false };
    throw e;
  }
}

/**
 * Deletes the namespace NAME (lazy unmount + unlink, like `ip netns del`; the kernel frees it, and
 * its links, once no process or fd holds it). Returns false when it did not exist and
 * `ifMissing` is 'ignore'; by default a missing namespace is KernelError ENOENT.
 */
export function deleteNamespace(name: string, options: { ifMissing?: 'error' | 'ignore' } = {}): boolean {
  checkNamespaceName(name, 'delete namespace');
  try {
    native().deleteNetns(name);
    return true;
  } catch (e) {
    const err = kernelErrorFrom(e, { operation: 'delete namespace', object: `'${name}'`, netns: null });
    if (err.code === 'ENOENT' && options.ifMissing === 'ignore') return false;
    throw err;
  }
}

/** The inode identifying the namespace at `path` (null: the calling thread's), to compare namespaces. */
export function namespaceId(path: string | null): number {
  try {
    return native().netnsId(path);
  } catch (e) {
    throw kernelErrorFrom(e, { operation: 'identify namespace', object: path ?? '(current)', netns: null });
  }
}

function checkNamespaceName(name: string, operation: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name === '.' || name === '..') {
    throw invalidArgument(
      { operation, object: `'${String(name)}'`, netns: null },
      'name',
      "must be 1..64 bytes of [A-Za-z0-9_.-], not '.' or '..'",
    );
  }
}
