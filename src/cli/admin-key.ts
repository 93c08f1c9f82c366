/**
 * The tool's admin key: found by `--admin-key FILE` or the ZMESH_ADMIN_KEY environment variable
 * (a file path); every revision the tool writes is signed with it (netdef/signature.ts). Without
 * one the tool still writes, unsigned, and says so: nodes refuse an unsigned definition, so the
 * unsigned file is a draft only. The key file must be 0600; errors never show its content.
 */
import { stat } from 'node:fs/promises';
import {
  ADMIN_KEY_ENV,
  AdminKey,
  NetdefError,
  type NetworkDefinition,
  ready,
  signDefinition,
  unsignedDefinition,
} from '../netdef/index.js';
import { CliError, type CliIo, envOf, type Invocation, type OptionSpec } from './command.js';
import { readTextFile } from './files.js';

export const ADMIN_KEY_OPTION: OptionSpec = {
  type: 'string',
  value: 'FILE',
  description: `the admin key that signs the new revision (default: $${ADMIN_KEY_ENV}); made by \`zmesh admin init\``,
};

/** Loads an admin key file; refuses one readable by group or others. */
export async function loadAdminKey(path: string, option: string): Promise<AdminKey> {
  await ready();
  const text = await readTextFile(path, option);
  if (((await stat(path)).mode & 0o077) !== 0)
    throw CliError.invalid(option, `${path} must not be readable by group or others (chmod 600)`);
  try {
    return AdminKey.fromBase64(text);
  } catch (error) {
    if (error instanceof NetdefError) throw CliError.invalid(option, `${path}: ${error.message}`);
    throw error;
  }
}

/** The admin key of this invocation, or null when neither --admin-key nor $ZMESH_ADMIN_KEY names one. */
export async function adminKeyOf(invocation: Invocation): Promise<AdminKey | null> {
  const option = invocation.args.strings['admin-key'];
  if (option !== undefined) return loadAdminKey(option, '--admin-key');
  const env = envOf(invocation.io, ADMIN_KEY_ENV);
  if (env !== undefined && env !== '') return loadAdminKey(env, `$${ADMIN_KEY_ENV}`);
  return null;
}

/** Returns a signer for the revisions this invocation writes (warns once on stderr when unsigned). */
export async function definitionSigner(invocation: Invocation): Promise<(def: NetworkDefinition) => NetworkDefinition> {
  const key = await adminKeyOf(invocation);
  if (key === null) {
    let warned = false;
    return (def) => {
      if (!warned) warnUnsigned(invocation.io);
      warned = true;
      return unsignedDefinition(def);
    };
  }
  return (def) => signDefinition(def, key);
}

function warnUnsigned(io: CliIo): void {
  io.stderr(
    `zmesh: warning: no admin key (--admin-key FILE or $${ADMIN_KEY_ENV}): the revision is written unsigned and every node will refuse it\n`,
  );
}
