/**
 * `zmesh store …`: the store as a whole — export (a versioned dump at one revision) and import
 * (writes only what differs; see src/store/dump.ts), for backup, restore and migration between
 * file: and etcd://.
 */

import { writeFileAtomic } from '../common/atomic-file.js';
import { exportStore, importDump, parseDump, withSignedWrites } from '../store/index.js';
import { ADMIN_KEY_OPTION, definitionSigner } from './admin-key.js';
import { CliError, type CommandGroup, type Invocation } from './command.js';
import { readTextFile } from './files.js';
import { STORE_OPTION, openStoreOption, storeCliError, storeUrlOf } from './store-target.js';
import { storeCertificateCommands } from './store-certs.js';

const FILE = [{ name: 'FILE', description: 'the dump (JSON)' }];

function storeOf(invocation: Invocation) {
  const url = storeUrlOf(invocation);
  if (url === undefined) throw CliError.invalid('--store', 'required (or set ZMESH_STORE)');
  return openStoreOption(url);
}

async function exportCommand(invocation: Invocation): Promise<void> {
  const store = storeOf(invocation);
  const file = invocation.args.positionals['FILE'] as string;
  try {
    const dump = await exportStore(store);
    // Definitions hold sealed keys only; the dump may be read by the operators who keep backups.
    await writeFileAtomic(file, `${JSON.stringify(dump, null, 2)}\n`, { mode: 0o640 });
    invocation.io.stdout(
      `exported ${dump.networks.length} network(s) and ${dump.records.length} node record(s) from ${store.description} at revision ${dump.revision} to ${file}\n`,
    );
  } catch (error) {
    throw storeCliError(error);
  } finally {
    await store.close();
  }
}

async function importCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const file = args.positionals['FILE'] as string;
  const above = args.strings['revision-above'];
  if (above !== undefined && !/^[0-9]{1,15}$/.test(above))
    throw CliError.invalid('--revision-above', 'must be a revision (a non-negative integer)');
  const text = await readTextFile(file, 'FILE');
  let dump;
  try {
    dump = parseDump(text, file);
  } catch (error) {
    throw CliError.invalid('FILE', (error as Error).message);
  }
  // A rollback writes new revisions: they are signed. A plain import keeps the dump's signatures.
  const sign = above === undefined ? null : await definitionSigner(invocation);
  const store = storeOf(invocation);
  try {
    const report = await importDump(
      sign ? withSignedWrites(store, sign) : store,
      dump,
      above === undefined ? {} : { revisionAbove: Number(above) },
    );
    io.stdout(
      `imported into ${store.description}: ${report.written.length} network(s) written${report.written.length ? ` (${report.written.join(', ')})` : ''}, ` +
        `${report.unchanged.length} unchanged, ${report.records} node record(s)\n`,
    );
  } catch (error) {
    throw storeCliError(error);
  } finally {
    await store.close();
  }
}

export const storeGroup: CommandGroup = {
  summary: 'the store as a whole: export, import, certificates',
  commands: {
    export: {
      summary: 'write every network definition and node record, read at one revision, to FILE',
      positionals: FILE,
      options: { store: STORE_OPTION },
      notes: "Nodes' own keys (alive, status) are not exported: nodes rewrite them.",
      run: exportCommand,
    },
    import: {
      summary: 'write the networks and node records of FILE into the store (only what differs)',
      positionals: FILE,
      options: {
        store: STORE_OPTION,
        'revision-above': {
          type: 'string',
          value: 'REV',
          description:
            'write every network whose revision is ≤ REV at REV+1: a deliberate rollback nodes will apply (signed with the admin key)',
        },
        'admin-key': ADMIN_KEY_OPTION,
      },
      notes: [
        'Importing what the nodes already run applies nothing. Networks in the store but not in FILE are left alone.',
        'A network older than what a node applied is refused by that node (zmesh net status shows it "invalid": never rolled back).',
        'To roll back to the backup on purpose, import again with --revision-above N, N the highest revision net status shows.',
      ].join('\n'),
      run: importCommand,
    },
    ...storeCertificateCommands,
  },
};
