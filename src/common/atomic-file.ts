/**
 * Crash-safe file replacement, for networkd's state and the tool's definitions and keys: write a
 * temporary file in the same directory with the mode asked for, fsync it, rename it over the
 * target (or link it, when the target must not exist yet), fsync the directory. A crash or a full
 * disk at any point leaves either the old file or the new one, never a mix; leftover temporaries
 * (named `.<name>.<pid>.<rand>.tmp`) are ignored by readers and swept by prepareDirectory.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { link, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteHooks {
  /** Called after the temporary file is complete and synced, before the rename (fault injection in tests). */
  readonly beforeRename?: (temporaryPath: string) => void | Promise<void>;
}

export interface AtomicWriteOptions {
  /** The file's permission bits, exactly (the umask does not apply); 0600 unless given. */
  readonly mode?: number;
  /** Fail with EEXIST instead of replacing an existing file (atomically: link, not check-then-write). */
  readonly exclusive?: boolean;
  readonly hooks?: AtomicWriteHooks;
}

const TEMPORARY = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

export function isTemporaryName(name: string): boolean {
  return TEMPORARY.test(name);
}

/** Replaces (or, exclusive, creates) `path` with `text` atomically and durably. */
export async function writeFileAtomic(path: string, text: string, options: AtomicWriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o600;
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    try {
      await handle.chmod(mode); // open's mode passed through the umask; be exact
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await options.hooks?.beforeRename?.(temporary);
    if (options.exclusive) await link(temporary, path);
    else await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
  await syncDirectory(dir);
}

/** Removes a file and makes the removal durable. */
export async function removeFileDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dir` (mode 0700) if missing and removes temporaries a crashed writer left in it. */
export function prepareDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir)) {
    if (isTemporaryName(name)) rmSync(join(dir, name), { force: true });
  }
}
