/**
 * etcd users and roles for the store (run with the root certificate; idempotent): the admin may
 * read and write everything under /zmesh/v1/; a node may read networks and node records and
 * write only under nodes/<its id>/ (its record, alive and status). With --client-cert-auth the
 * certificate's CN is the user, so no password is ever used (the users get a random one).
 */

import { randomBytes } from 'node:crypto';
import { type Etcd3, EtcdRoleExistsError, EtcdUserExistsError, Range } from 'etcd3';
import { ADMIN_USER, ROOT_USER, nodeUser } from './certificates.js';
import { NETWORKS, NODES, PREFIX, nodePrefix } from './keys.js';

async function ensureUser(client: Etcd3, name: string, role: string): Promise<void> {
  try {
    await client.user(name).create(randomBytes(24).toString('base64'));
  } catch (error) {
    if (!(error instanceof EtcdUserExistsError)) throw error;
  }
  await client.user(name).addRole(role);
}

async function ensureRole(client: Etcd3, name: string): Promise<ReturnType<Etcd3['role']>> {
  const role = client.role(name);
  try {
    await role.create();
  } catch (error) {
    if (!(error instanceof EtcdRoleExistsError)) throw error;
  }
  return role;
}

export async function grantNode(client: Etcd3, id: string): Promise<void> {
  const role = await ensureRole(client, nodeUser(id));
  await role.grant([
    { permission: 'Read', range: Range.prefix(NETWORKS) },
    { permission: 'Read', range: Range.prefix(NODES) },
    { permission: 'Readwrite', range: Range.prefix(nodePrefix(id)) },
  ]);
  await ensureUser(client, nodeUser(id), nodeUser(id));
}

/** Root and admin users, the given nodes, then authentication on. */
export async function setupAccess(client: Etcd3, nodes: readonly string[]): Promise<void> {
  await ensureRole(client, ROOT_USER);
  await ensureUser(client, ROOT_USER, ROOT_USER);
  const admin = await ensureRole(client, ADMIN_USER);
  await admin.grant({ permission: 'Readwrite', range: Range.prefix(PREFIX) });
  await ensureUser(client, ADMIN_USER, ADMIN_USER);
  for (const id of nodes) await grantNode(client, id);
  await client.auth.authEnable({});
}
