/**
 * Helpers for the networkd netns tests: a node (namespace + state dir with a real identity),
 * networkd started as a real process inside it (the world's prefix as --prefix, so teardown
 * removes every namespace it makes), and a small HTTP client over its UNIX socket.
 */
import type http from 'node:http';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ExecutionContext } from 'ava';
import { UnixHttpClient } from '../../src/http/client.js';
import {
  AdminKey,
  type NetworkDefinition,
  addNode,
  createNetwork,
  signDefinition,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { makeNodeKeys, spawnNetworkd, writeNodeState } from '../../src/sim/harness/networkd.js';
import type { BackgroundProcess, Namespace, World } from '../harness/index.js';

export interface TestNode {
  readonly ns: Namespace;
  readonly stateDir: string;
  readonly socket: string;
  /** The node's one network, at `revision`, signed by `admin`. */
  readonly definition: (name: string, revision?: number) => NetworkDefinition;
  /** The admin key the node trusts (in its state dir's trusted-admin-keys). */
  readonly admin: AdminKey;
}

export async function makeNode(world: World, id = 'alpha'): Promise<TestNode> {
  const node = await makeNodeKeys(id);
  const ns = await world.namespace(id);
  const stateDir = join(world.tempDir(), id);
  const admin = AdminKey.generate();
  await writeNodeState(stateDir, node, [admin.publicKey()]);
  const defs = new Map<string, NetworkDefinition>();
  const definition = (name: string, revision = 1): NetworkDefinition => {
    let def = defs.get(name);
    if (!def) {
      def = addNode(createNetwork(name, '10.77.0.0/16'), node.record, sodiumKeySource);
      defs.set(name, def);
    }
    return signDefinition({ ...def, revision } as NetworkDefinition, admin);
  };
  return { ns, stateDir, socket: join(stateDir, 'networkd.sock'), definition, admin };
}

export function startNetworkd(world: World, node: TestNode): Promise<BackgroundProcess> {
  return spawnNetworkd(node.ns, { stateDir: node.stateDir, prefix: world.prefix });
}

export interface Reply {
  readonly status: number;
  readonly body: any;
  readonly headers: http.IncomingHttpHeaders;
}

export async function call(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  // A string body is sent as it is (a test's malformed JSON), still labelled as JSON.
  const client = new UnixHttpClient({ socketPath: socket, timeoutMs: 60_000 });
  try {
    const options =
      typeof body === 'string'
        ? { rawBody: body, headers: { 'content-type': 'application/json', ...headers } }
        : { body, headers };
    const answer = await client.request(method, path, options);
    return { status: answer.status, body: answer.body, headers: answer.headers };
  } finally {
    client.close();
  }
}

/** Fails `t` unless `body` is exactly what `schema` (a networkd view, src/networkd/views.ts) says. */
export function assertView(t: ExecutionContext, schema: TSchema, body: unknown, what: string): void {
  const errors = [...Value.Errors(schema, body)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
  t.deepEqual(errors, [], `${what} does not match its view`);
}
