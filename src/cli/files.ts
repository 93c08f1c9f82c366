/**
 * File I/O of the tool: reading inputs with errors that name the argument, and atomic writes
 * (src/common/atomic-file.ts: temporary file in the same directory, fsync, rename, fsync of the
 * directory) so that a crash or a full disk never leaves a half-written definition or key.
 */

import { readFile, stat } from 'node:fs/promises';
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

/** Parses JSON; a syntax error names `field` (the file's JSON message holds no secrets). */
export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw CliError.invalid(field, `not valid JSON: ${(error as Error).message}`);
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
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
