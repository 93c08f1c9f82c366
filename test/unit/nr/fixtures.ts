/**
 * Test networks for src/nr: real definitions built with netdef's verbs (real keys), and each
 * node's resource with the context networkd would give planNr (the unsealed key, an address).
 */
import {
  type KeyPair,
  type NetworkDefinition,
  type NodeResource,
  type Resource,
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  openResourceKey,
  ready,
  removeNode,
  resourceFor,
  setAggregator,
  setExit,
  sodiumKeySource,
} from '../../../src/netdef/index.js';
import type { NrContext } from '../../../src/nr/plan.js';

export interface NodeSpec {
  readonly id: string;
  readonly hidden: boolean;
  /** Endpoint host (IPv4 or name) for public nodes. */
  readonly host?: string;
}

export interface TestNetwork {
  readonly def: NetworkDefinition;
  readonly identities: ReadonlyMap<string, KeyPair>;
}

export async function initKeys(): Promise<void> {
  await ready();
}

/** Publics first (in order), then the aggregator, then hidden nodes; `exit` set last. */
export function buildNetwork(
  name: string,
  ipRange: string,
  nodes: readonly NodeSpec[],
  options: { aggregator?: string; exit?: string } = {},
): TestNetwork {
  const identities = new Map<string, KeyPair>();
  let def = createNetwork(name, ipRange);
  const add = (spec: NodeSpec): void => {
    const identity = generateKeyPair();
    identities.set(spec.id, identity);
    const record = assertNodeRecord({
      id: spec.id,
      identityKey: identity.publicKey,
      endpoints: spec.hidden ? [] : [spec.host ?? '198.51.100.1'],
      hidden: spec.hidden,
    });
    def = addNode(def, record, sodiumKeySource);
  };
  for (const spec of nodes.filter((n) => !n.hidden)) add(spec);
  if (options.aggregator !== undefined) def = setAggregator(def, options.aggregator);
  for (const spec of nodes.filter((n) => n.hidden)) add(spec);
  if (options.exit !== undefined) def = setExit(def, options.exit);
  return { def, identities };
}

/** The network with one more node (joined with the library verb, keys kept for the others). */
export function withNode(net: TestNetwork, spec: NodeSpec): TestNetwork {
  const identity = generateKeyPair();
  const record = assertNodeRecord({
    id: spec.id,
    identityKey: identity.publicKey,
    endpoints: spec.hidden ? [] : [spec.host ?? '198.51.100.1'],
    hidden: spec.hidden,
  });
  return {
    def: addNode(net.def, record, sodiumKeySource),
    identities: new Map([...net.identities, [spec.id, identity]]),
  };
}

export function withoutNode(net: TestNetwork, node: string): TestNetwork {
  return { def: removeNode(net.def, node), identities: net.identities };
}

export function withExit(net: TestNetwork, node: string | undefined): TestNetwork {
  return { def: setExit(net.def, node), identities: net.identities };
}

export function resourceOf(net: TestNetwork, node: string): Resource {
  return net.def.resources.find((r) => r.node === node)!;
}

/**
 * The node's resource and the context networkd would pass to planNr. `resolved` stands for
 * networkd's resolution: a peer endpoint it names (`host:port`) is replaced by its `ip:port`.
 */
export function nodeInput(
  net: TestNetwork,
  node: string,
  options: { prefix?: string; publicAddress?: string; resolved?: ReadonlyMap<string, string> } = {},
): { resource: NodeResource; ctx: NrContext } {
  const derived = resourceFor(net.def, node);
  const resolved = options.resolved ?? new Map<string, string>();
  const peers = derived.peers.map((peer) => ({
    ...peer,
    endpoint: (peer.endpoint !== null && resolved.get(peer.endpoint)) || peer.endpoint,
  }));
  const resource: NodeResource = { ...derived, peers };
  const privateKey = openResourceKey(resourceOf(net, node), net.identities.get(node)!.privateKey);
  return {
    resource,
    ctx: {
      prefix: options.prefix ?? 'zt',
      publicAddress: options.publicAddress ?? '100.127.0.2',
      privateKey,
    },
  };
}
