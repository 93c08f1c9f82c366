/**
 * `zmesh node ...`: the node's identity. `node init` creates the X25519 identity key (mode 0600 in
 * a 0700 state directory) and the public node record that the network's owner adds to networks.
 */

import { nodeInstallCommand } from './node-install.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeToolFile } from './files.js';
import { readTrustedKeys, writeTrustState, writeTrustedKeys } from '../networkd/trusted-keys.js';
import { assertAdminPublicKey, generateKeyPair, parseNodeRecord, ready } from '../netdef/index.js';
import { CliError, type CliIo, type CommandGroup, type Invocation, type Problem } from './command.js';
import { STORE_OPTION, openStoreOption, storeCliError } from './store-target.js';
import type { NodeRecord } from '../netdef/index.js';

export const IDENTITY_KEY_FILE = 'identity.key';
export const NODE_RECORD_FILE = 'node.json';

function recordField(path: string): string {
  if (path === '/id') return '--id';
  if (path.startsWith('/endpoints/')) return `--endpoint #${Number(path.slice('/endpoints/'.length)) + 1}`;
  if (path === '/endpoints') return '--endpoint';
  return `record#${path}`;
}

/** Publishes the record in the store; the identity stays on this machine either way. */
async function publishRecord(url: string, record: NodeRecord, io: CliIo): Promise<void> {
  const store = openStoreOption(url);
  try {
    await store.putNodeRecord(record);
  } catch (error) {
    throw storeCliError(error);
  } finally {
    await store.close();
  }
  io.stderr(`published node record "${record.id}" in ${store.description}\n`);
}

async function init({ args, io }: Invocation): Promise<void> {
  const stateDir = args.strings['state-dir'] as string; // required by the option table
  await ready();
  const identity = generateKeyPair();
  const result = parseNodeRecord({
    id: args.strings['id'],
    identityKey: identity.publicKey,
    endpoints: args.lists['endpoint'] ?? [],
    hidden: args.flags['hidden'] === true,
  });
  if (!result.ok) {
    throw new CliError(
      result.errors.map(
        (issue): Problem => ({
          field: recordField(issue.path),
          reason: issue.path === '/endpoints' ? 'a public node needs at least one (or --hidden)' : issue.message,
        }),
      ),
    );
  }
  const trusted = trustOption(args.lists['trust'] ?? [], '--trust');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const keyPath = join(stateDir, IDENTITY_KEY_FILE);
  try {
    await writeToolFile(keyPath, `${identity.privateKey.revealBase64()}\n`, '--state-dir', {
      mode: 0o600,
      exclusive: args.flags['force'] !== true,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw CliError.invalid(
        '--state-dir',
        `${keyPath} already exists: refusing to replace a node identity (use --force to replace it)`,
      );
    }
    throw error;
  }
  await writeTrustState(stateDir, { keys: trusted, through: null }); // a new node follows no trust log yet
  if (trusted.length === 0)
    io.stderr(
      `zmesh: warning: this node trusts no admin key and will refuse every definition (zmesh node trust add KEY)\n`,
    );
  const recordText = `${JSON.stringify(result.value, null, 2)}\n`;
  await writeToolFile(join(stateDir, NODE_RECORD_FILE), recordText, '--state-dir', { mode: 0o644 });
  io.stdout(recordText);
  const url = args.strings['store'];
  if (url !== undefined) await publishRecord(url, result.value, io);
}

/** Admin public keys given on the command line, checked; the option is named in the error. */
function trustOption(texts: readonly string[], option: string): string[] {
  return texts.map((text, i) => {
    try {
      return assertAdminPublicKey(text);
    } catch (error) {
      throw CliError.invalid(texts.length > 1 ? `${option} #${i + 1}` : option, (error as Error).message);
    }
  });
}

/** node trust add|remove KEY: the node's trusted admin keys, changed locally (networkd reads them per definition). */
async function trust({ args, io }: Invocation): Promise<void> {
  const stateDir = args.strings['state-dir'] as string; // required by the option table
  const action = args.positionals['ACTION'];
  if (action !== 'add' && action !== 'remove')
    throw CliError.invalid('ACTION', `"${action ?? ''}" is not add or remove`);
  await ready();
  const [key] = trustOption([args.positionals['KEY'] ?? ''], 'KEY');
  let current: string[];
  try {
    current = await readTrustedKeys(stateDir);
  } catch (error) {
    throw CliError.invalid('--state-dir', (error as Error).message);
  }
  const next =
    action === 'add'
      ? current.includes(key as string)
        ? current
        : [...current, key as string]
      : current.filter((k) => k !== key);
  await writeTrustedKeys(stateDir, next);
  io.stdout(`${next.length} trusted admin key(s)${next.map((k) => `\n  ${k}`).join('')}\n`);
  if (next.length === 0)
    io.stderr('zmesh: warning: this node now trusts no admin key and will refuse every definition\n');
}

export const nodeGroup: CommandGroup = {
  summary: "a node's identity",
  commands: {
    init: {
      summary: "create this node's X25519 identity and print its node record",
      options: {
        'state-dir': {
          type: 'string',
          value: 'D',
          required: true,
          description: `directory for ${IDENTITY_KEY_FILE} (0600) and ${NODE_RECORD_FILE}; created 0700`,
        },
        id: {
          type: 'string',
          value: 'NAME',
          required: true,
          description: 'node id: 1-32 characters of a-z, 0-9 and "-"',
        },
        endpoint: {
          type: 'string',
          value: 'HOST[:PORT]',
          multiple: true,
          description:
            'where other NRs reach this node: IPv4, [IPv6] or host name; without a port the NR listen port is used',
        },
        hidden: { type: 'boolean', description: 'the node is behind NAT and cannot be dialled' },
        force: { type: 'boolean', description: 'replace an existing identity (the node loses its old one)' },
        store: {
          ...STORE_OPTION,
          description: 'also publish the record there (nodes/<id>/record), for `net add-node --node ID`',
        },
        trust: {
          type: 'string',
          value: 'KEY',
          multiple: true,
          description:
            'an admin public key whose signed definitions this node accepts (repeatable; none: the node refuses every definition)',
        },
      },
      notes:
        'The record ({ id, identityKey, endpoints, hidden }) is printed and written to D/node.json; give it to `zmesh net add-node`.',
      run: init,
    },
    trust: {
      summary: 'add or remove an admin public key this node trusts (takes effect with the next definition)',
      positionals: [
        { name: 'ACTION', description: 'add or remove' },
        { name: 'KEY', description: 'an admin public key (`zmesh admin init` prints it)' },
      ],
      options: { 'state-dir': { type: 'string', value: 'D', required: true, description: 'the node state directory' } },
      run: trust,
    },
    install: nodeInstallCommand,
  },
};
