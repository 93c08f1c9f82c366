/** Test helpers: real node identities and records (real libsodium keys), small networks. */

import {
  type KeyPair,
  type NetworkDefinition,
  type NodeRecord,
  addNode,
  assertNodeRecord,
  createNetwork,
  generateKeyPair,
  ready,
  setAggregator,
  sodiumKeySource,
} from '../../../src/netdef/index.js';

export interface TestNode {
  readonly identity: KeyPair;
  readonly record: NodeRecord;
}

export async function initKeys(): Promise<void> {
  await ready();
}

/** A node with a fresh identity; public nodes get an endpoint 198.51.100.<n> without port. */
export function makeNode(id: string, hidden: boolean, host = `198.51.100.${(id.length * 7) % 250}`): TestNode {
  const identity = generateKeyPair();
  const record = assertNodeRecord({ id, identityKey: identity.publicKey, endpoints: hidden ? [] : [host], hidden });
  return { identity, record };
}

/** A network built with the library verbs: publics first, then the aggregator, then hidden. */
export function buildNetwork(
  name: string,
  ipRange: string,
  nodes: readonly TestNode[],
  aggregator?: string,
): NetworkDefinition {
  let def = createNetwork(name, ipRange);
  for (const node of nodes.filter((n) => !n.record.hidden)) def = addNode(def, node.record, sodiumKeySource);
  if (aggregator !== undefined) def = setAggregator(def, aggregator);
  for (const node of nodes.filter((n) => n.record.hidden)) def = addNode(def, node.record, sodiumKeySource);
  return def;
}
