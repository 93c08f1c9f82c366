/**
 * The `zmesh net` verbs that only read a definition FILE: validate, show (a table) and plan (one
 * node's derived resource as JSON, optionally proving that the node's identity opens its sealed
 * key — the key itself is never printed).
 */

import { type NetworkDefinition, UnknownNodeError, netIdOf, openResourceKey, parseCidr, ready, resourceFor, wgAddressOf } from '../netdef/index.js';
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

export async function validateCommand(invocation: Invocation): Promise<void> {
  const { def } = await readTarget(invocation);
  const { io } = invocation;
  io.stdout(`ok: network "${def.name}" revision ${def.revision}, ${def.resources.length} NRs\n`);
}

export async function showCommand(invocation: Invocation): Promise<void> {
  const { def } = await readTarget(invocation);
  const { io } = invocation;
  const rows = def.resources.map((resource) => {
    const roles = [def.aggregator === resource.node ? 'aggregator' : '', def.exit === resource.node ? 'exit' : ''].filter(Boolean);
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
  io.stdout(`network ${def.name} (netid ${netIdOf(def.name)})  range ${def.ipRange}  revision ${def.revision}  ${def.resources.length} NRs\n`);
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
