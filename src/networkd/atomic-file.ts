/**
 * Crash-safe file replacement for networkd's state: write a temporary file in the same
 * directory, fsync it, rename it over the target, fsync the directory. A crash at any point
 * leaves either the old file or the new one, never a mix; leftover temporaries (named
 * `.<name>.<pid>.<rand>.tmp`) are ignored by readers and swept at start.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, fsyncSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteHooks {
  /** Called after the temporary file is complete and synced, before the rename (fault injection in tests). */
  readonly beforeRename?: (temporaryPath: string) => void | Promise<void>;
}

const TEMPORARY = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

export function isTemporaryName(name: string): boolean {
  return TEMPORARY.test(name);
}

/** Replaces `path` with `text` atomically; the file gets `mode` (0600: state is root's only). */
export async function writeFileAtomic(path: string, text: string, mode = 0o600, hooks: AtomicWriteHooks = {}): Promise<void> {
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await hooks.beforeRename?.(temporary);
    await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
  syncDirectory(dir);
}

/** Removes a file and makes the removal durable. */
export async function removeFileDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  syncDirectory(dirname(path));
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates `dir` (mode 0700) if missing and removes temporaries a crashed writer left in it. */
export function prepareDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir)) {
    if (isTemporaryName(name)) rmSync(join(dir, name), { force: true });
  }
}
