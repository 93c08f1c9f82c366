/**
 * The `zmesh net` verbs that only read a definition FILE: validate, show (a table) and plan (one
 * node's derived resource as JSON, optionally proving that the node's identity opens its sealed
 * key — the key itself is never printed).
 */

import {
  type NetworkDefinition,
  UnknownNodeError,
  aggregatorsOf,
  assertAdminPublicKey,
  keyLabel,
  netIdOf,
  openResourceKey,
  parseCidr,
  ready,
  resourceFor,
  verifyDefinition,
  wgAddressOf,
} from '../netdef/index.js';
import { adminKeyOf } from './admin-key.js';
import { CliError, type Invocation } from './command.js';
import { loadDefinition, loadIdentityKey, toCliError } from './definition-io.js';
import { accessSummary } from './net-access-summary.js';
import { resolveTarget, withTarget } from './store-target.js';
import { formatTable } from './table.js';

export const UNSEALED_NOTE = 'unsealed (matches wgPublicKey)';

/** The definition a read-only verb looks at (FILE, or the network in the store) and how to name it. */
export async function readTarget(invocation: Invocation): Promise<{ def: NetworkDefinition; label: string }> {
  const target = resolveTarget(invocation);
  if (target.kind === 'file') return { def: await loadDefinition(target.file), label: target.file };
  const def = await withTarget(target, () => target.store.readNetwork(target.name));
  if (!def) throw CliError.invalid('FILE', `no network "${target.name}" in ${target.store.description}`);
  return { def, label: target.label };
}

/**
 * The signature is checked against the keys of --trust, else the admin key's public half; with
 * neither, against the key it names (which proves it unaltered since signing, not who signed).
 */
export async function validateCommand(invocation: Invocation): Promise<void> {
  const { def, label } = await readTarget(invocation);
  const { io } = invocation;
  await ready();
  const trusted = (invocation.args.lists['trust'] ?? []).map((text, i) => {
    try {
      return assertAdminPublicKey(text);
    } catch (error) {
      throw CliError.invalid(`--trust #${i + 1}`, (error as Error).message);
    }
  });
  const admin = trusted.length === 0 ? await adminKeyOf(invocation) : null;
  if (admin !== null) trusted.push(admin.publicKey());
  if (def.signature === undefined)
    throw CliError.invalid(
      `${label}#/signature`,
      'the definition is not signed (nodes refuse it): write it with --admin-key FILE',
    );
  const named = trusted.length === 0;
  const check = verifyDefinition(def, named ? [def.signature.key] : trusted);
  if (!check.ok) throw CliError.invalid(`${label}#/signature`, check.reason);
  const signer = `signed by ${keyLabel(check.signer)}${named ? ' (integrity only: give --trust KEY to check the signer)' : ''}`;
  io.stdout(`ok: network "${def.name}" revision ${def.revision}, ${def.resources.length} NRs, ${signer}\n`);
}

export async function showCommand(invocation: Invocation): Promise<void> {
  const { def } = await readTarget(invocation);
  const { io } = invocation;
  const aggregators = aggregatorsOf(def);
  const rows = def.resources.map((resource) => {
    const rank = aggregators.indexOf(resource.node);
    const roles = [
      rank === 0 ? 'aggregator' : rank > 0 ? `aggregator ${rank + 1}` : '',
      def.exit === resource.node ? 'exit' : '',
    ].filter(Boolean);
    const subnet = parseCidr(resource.subnet);
    const more = resource.endpoints.length > 1 ? ` (+${resource.endpoints.length - 1})` : '';
    return [
      resource.node,
      resource.subnet,
      subnet ? wgAddressOf(subnet) : '?',
      String(resource.listenPort),
      resource.endpoints[0] === undefined ? '-' : `${resource.endpoints[0]}${more}`,
      resource.hidden ? 'yes' : 'no',
      roles.length > 0 ? roles.join(',') : '-',
    ];
  });
  io.stdout(
    `network ${def.name} (netid ${netIdOf(def.name)})  range ${def.ipRange}  revision ${def.revision}  ${def.resources.length} NRs\n`,
  );
  io.stdout(formatTable(['NODE', 'SUBNET', 'WG ADDRESS', 'PORT', 'ENDPOINT', 'HIDDEN', 'ROLE'], rows));
  io.stdout(accessSummary(def, new Date()));
}

export async function planCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const node = args.strings['node'] as string;
  const { def, label: file } = await readTarget(invocation);
  let plan;
  try {
    plan = resourceFor(def, node);
  } catch (error) {
    if (error instanceof UnknownNodeError) throw CliError.invalid('--node', error.message);
    throw error;
  }
  const keyPath = args.strings['node-key'];
  if (keyPath === undefined) {
    io.stdout(`${JSON.stringify(plan, null, 2)}\n`);
    return;
  }
  await ready();
  const identity = await loadIdentityKey(keyPath, '--node-key');
  const resource = def.resources.find((r) => r.node === node);
  try {
    if (resource) openResourceKey(resource, identity); // proves it opens and matches; result dropped
  } catch (error) {
    throw toCliError(error, file, { '/identityKey': '--node-key', '/wgPrivateKeySealed': '--node-key' });
  }
  io.stdout(`${JSON.stringify({ ...plan, privateKey: UNSEALED_NOTE }, null, 2)}\n`);
}
