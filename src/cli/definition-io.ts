/**
 * The tool's side of netdef documents: load and validate a definition FILE, a node record and an
 * identity key; save a definition atomically; and turn netdef's typed errors into CLI problems
 * that name the option or the JSON path the operator has to fix.
 */

import {
  NetdefError,
  NetdefValidationError,
  type NetworkDefinition,
  type NodeRecord,
  PrivateKey,
  type ValidationIssue,
  parseNetworkDefinition,
  parseNodeRecord,
} from '../netdef/index.js';
import { CliError, type CliIo, type Problem } from './command.js';
import { modeOf, parseJson, readTextFile, writeToolFile } from './files.js';

/** A definition holds sealed keys only, so it may be world-readable. */
export const DEFINITION_MODE = 0o644;

function issuesToProblems(issues: readonly ValidationIssue[], prefix: string): Problem[] {
  return issues.map((issue) => ({ field: `${prefix}#${issue.path || '/'}`, reason: issue.message }));
}

/** Reads and validates a definition FILE; every issue is reported as FILE#/json/path. */
export async function loadDefinition(file: string): Promise<NetworkDefinition> {
  const input = parseJson(await readTextFile(file, file), file);
  const result = parseNetworkDefinition(input);
  if (!result.ok) throw new CliError(issuesToProblems(result.errors, file));
  return result.value;
}

export async function saveDefinition(file: string, def: NetworkDefinition, exclusive = false): Promise<void> {
  const mode = (await modeOf(file)) ?? DEFINITION_MODE;
  await writeToolFile(file, `${JSON.stringify(def, null, 2)}\n`, 'FILE', { mode, exclusive });
}

/** Reads a node record from a path, or from stdin when the path is `-`. */
export async function loadNodeRecord(path: string, option: string, io: CliIo): Promise<NodeRecord> {
  const text = path === '-' ? await io.readStdin() : await readTextFile(path, option);
  const result = parseNodeRecord(parseJson(text, option));
  if (!result.ok) throw new CliError(issuesToProblems(result.errors, option));
  return result.value;
}

/** Reads an identity private key file (base64, as written by node init). */
export async function loadIdentityKey(path: string, option: string): Promise<PrivateKey> {
  const text = await readTextFile(path, option);
  try {
    return PrivateKey.fromBase64(text, 'identity key');
  } catch (error) {
    if (error instanceof NetdefError) throw CliError.invalid(option, error.message);
    throw error;
  }
}

/**
 * Maps a netdef error to CLI problems. `fields` names the option behind a JSON path of the new
 * definition (e.g. `/resources/3/subnet` → `--subnet`); other paths are shown as FILE#path.
 */
export function toCliError(error: unknown, file: string, fields: Readonly<Record<string, string>> = {}): unknown {
  if (!(error instanceof NetdefError)) return error;
  const issues: readonly ValidationIssue[] =
    error instanceof NetdefValidationError ? error.issues : [{ path: error.path, message: error.message }];
  return new CliError(
    issues.map((issue) => ({ field: fields[issue.path] ?? `${file}#${issue.path || '/'}`, reason: issue.message })),
  );
}
