/**
 * `zmesh admin init --key FILE`: creates an admin's Ed25519 key (file 0600, never printed) and
 * prints its public key, which nodes trust with `zmesh node init --trust KEY` /
 * `zmesh node trust add KEY`. `zmesh admin public-key --key FILE` prints it again.
 */
import { AdminKey, ready } from '../netdef/index.js';
import { loadAdminKey } from './admin-key.js';
import { CliError, type CommandGroup, type Invocation } from './command.js';
import { writeToolFile } from './files.js';

async function init({ args, io }: Invocation): Promise<void> {
  const path = args.strings['key'] as string; // required by the option table
  await ready();
  const key = AdminKey.generate();
  try {
    await writeToolFile(path, `${key.revealBase64()}\n`, '--key', {
      mode: 0o600,
      exclusive: args.flags['force'] !== true,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw CliError.invalid(
        '--key',
        `${path} already exists: refusing to replace an admin key (use --force to replace it)`,
      );
    }
    throw error;
  }
  io.stdout(`${key.publicKey()}\n`);
}

async function publicKey({ args, io }: Invocation): Promise<void> {
  const key = await loadAdminKey(args.strings['key'] as string, '--key');
  io.stdout(`${key.publicKey()}\n`);
}

export const adminGroup: CommandGroup = {
  summary: 'the admin key that signs network definitions',
  commands: {
    init: {
      summary: 'create an Ed25519 admin key (0600) and print its public key',
      options: {
        key: { type: 'string', value: 'FILE', required: true, description: 'where the secret key goes (mode 0600)' },
        force: { type: 'boolean', description: 'replace an existing key file' },
      },
      notes:
        'Nodes trust the printed public key: `zmesh node init --trust KEY` or `zmesh node trust add KEY`. The tool signs with FILE given as --admin-key FILE or $ZMESH_ADMIN_KEY.',
      run: init,
    },
    'public-key': {
      summary: "print an admin key's public key",
      options: { key: { type: 'string', value: 'FILE', required: true, description: 'the admin key file' } },
      run: publicKey,
    },
  },
};
