/**
 * Helpers for the networkd netns tests: a node (namespace + state dir with a real identity),
 * networkd started as a real process inside it (the world's prefix as --prefix, so teardown
 * removes every namespace it makes), and a small HTTP client over its UNIX socket.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { writeTrustedKeys } from '../../src/common/trusted-keys.js';
import {
  AdminKey,
  type NetworkDefinition,
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  ready,
  signDefinition,
  sodiumKeySource,
} from '../../src/netdef/index.js';
import { defaultZmeshInvocation, zmeshArgs } from '../../src/sim/zmesh-command.js';
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
  await ready();
  const ns = await world.namespace(id);
  const stateDir = join(world.tempDir(), id);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const identity = generateKeyPair();
  writeFileSync(join(stateDir, 'identity.key'), `${identity.privateKey.revealBase64()}\n`, { mode: 0o600 });
  const record = assertNodeRecord({ id, identityKey: identity.publicKey, endpoints: ['198.51.100.1'], hidden: false });
  writeFileSync(join(stateDir, 'node.json'), JSON.stringify(record));
  const admin = AdminKey.generate();
  await writeTrustedKeys(stateDir, [admin.publicKey()]);
  const defs = new Map<string, NetworkDefinition>();
  const definition = (name: string, revision = 1): NetworkDefinition => {
    let def = defs.get(name);
    if (!def) {
      def = addNode(createNetwork(name, '10.77.0.0/16'), record, sodiumKeySource);
      defs.set(name, def);
    }
    return signDefinition({ ...def, revision } as NetworkDefinition, admin);
  };
  return { ns, stateDir, socket: join(stateDir, 'networkd.sock'), definition, admin };
}

export async function startNetworkd(world: World, node: TestNode): Promise<BackgroundProcess> {
  // dist/ when it is fresh, else src/ under tsx (src/sim/zmesh-command.ts). Not `ip netns exec`:
  // its private mount namespace would hide the namespaces networkd makes.
  const zmesh = defaultZmeshInvocation();
  const proc = node.ns.spawnSharingMounts(zmesh.file, zmeshArgs(zmesh, ['networkd', '--state-dir', node.stateDir, '--prefix', world.prefix, '--reconcile-interval', '3600']));
  await proc.waitForOutput(/ready, pid/, { timeoutMs: 30_000 });
  return proc;
}

export interface Reply {
  readonly status: number;
  readonly body: any;
  readonly headers: http.IncomingHttpHeaders;
}

export function call(socket: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath: socket, method, path, headers: { ...headers, ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, body: raw ? JSON.parse(raw) : null, headers: response.headers });
      });
    });
    request.on('error', reject);
    request.setTimeout(60_000, () => request.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    request.end(text);
  });
}
