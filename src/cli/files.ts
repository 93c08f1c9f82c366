/**
 * File I/O of the tool: reading inputs with errors that name the argument, and atomic writes
 * (src/common/atomic-file.ts: temporary file in the same directory, fsync, rename, fsync of the
 * directory) so that a crash or a full disk never leaves a half-written definition or key.
 */

import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type AtomicWriteOptions, writeFileAtomic } from '../common/atomic-file.js';
import { JsonTextError, parseStrictJson } from '../common/json-text.js';
import { CliError } from './command.js';

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? 'unreadable';
}

/** Reads a text file; a failure is an invalid-input error naming `field`. */
export async function readTextFile(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw CliError.invalid(field, `cannot read ${path}: ${reasonOf(error)}`);
  }
}

/**
 * Parses JSON strictly (src/common/json-text.ts); a syntax error names `field`, a key given twice
 * or an inexact integer names `field#/json/path` (the file's JSON message holds no secrets).
 */
export function parseJson(text: string, field: string): unknown {
  try {
    return parseStrictJson(text);
  } catch (error) {
    if (error instanceof JsonTextError) throw CliError.invalid(`${field}#${error.path || '/'}`, error.reason);
    throw CliError.invalid(field, `not valid JSON: ${(error as Error).message}`);
  }
}

/** Whether anything is at `path`: a symbolic link counts, even one whose target is missing. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Symbolic links followed at most this often (the kernel's MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

/**
 * The file `path` finally names, following symbolic links (the target may not exist yet: a
 * dangling link), so that a write replaces the target and keeps the link as the user made it.
 */
async function linkTarget(path: string, field: string): Promise<string> {
  let current = path;
  for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
    let target: string;
    try {
      target = await readlink(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return current; // not a link, or nothing there yet
      throw CliError.failed(field, `cannot write ${path}: ${reasonOf(error)}`);
    }
    current = resolve(dirname(current), target);
  }
  throw CliError.failed(field, `cannot write ${path}: more than ${MAX_LINK_HOPS} symbolic links to follow`);
}

/**
 * Writes one of the tool's files atomically (src/common/atomic-file.ts), through a symbolic link to
 * its target. A failure is `<field>: cannot write <path>: <reason>` — the path asked for, never the
 * temporary file; EEXIST of an exclusive write passes through for the caller to word.
 */
export async function writeToolFile(
  path: string,
  text: string,
  field: string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = await linkTarget(path, field);
  try {
    await writeFileAtomic(target, text, options);
  } catch (error) {
    if (options.exclusive && (error as NodeJS.ErrnoException).code === 'EEXIST') throw error;
    const via = target === path ? '' : ` (the target of the link, ${target})`;
    throw CliError.failed(field, `cannot write ${path}${via}: ${reasonOf(error)}`);
  }
}

/** The permission bits of an existing file, or undefined. */
export async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
}
