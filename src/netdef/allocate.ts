/**
 * Changes to a definition, as the tool's verbs: create, add/remove a node, set roles, reprovision.
 * Each returns a NEW validated definition with revision + 1 (inputs are never mutated; unchanged
 * resources are shared) or throws a typed error. Allocation is deterministic given its inputs:
 * the lowest free /24 of ipRange, the lowest free port from the network's base port.
 */

import { SUBNET_PREFIX, UNUSABLE_WG_ADDRESS, wgAddressNumberOf } from './addressing.js';
import { aggregatorsOf } from './aggregators.js';
import { formatEndpoint, parseEndpoint } from './endpoint.js';
import { AllocationError, NetdefValidationError, ReprovisionError, UnknownNodeError } from './errors.js';
import { withIdentityChange } from './pinning.js';
import { type Cidr, formatCidr, makeCidr, parseCidr, rangeOf } from './ipv4.js';
import type { KeySource, PrivateKey } from './keys.js';
import { basePortOf } from './netid.js';
import { openResourceKey } from './nr-key.js';
import { assertNetworkDefinition } from './parse.js';
import {
  DEFINITION_VERSION,
  type IdentityChange,
  type NetworkDefinition,
  type NetworkDefinitionDocument,
  type NodeRecord,
  type Resource,
} from './schema.js';

/** The lowest listen port when the search from the base port wraps around past 65535. */
export const WRAP_PORT_MIN = 1024;

export interface AddNodeOptions {
  /** A specific /24 (must be free and inside ipRange); default: the lowest free one. */
  subnet?: string;
  /** A specific listen port (must be unused in the network); default: allocated. */
  listenPort?: number;
}

export type ReprovisionOptions = {
  /** Generate a new WireGuard key pair instead of re-sealing the existing one. */
  rotateKey: boolean;
  /** The node's previous identity key, needed to re-seal the existing key to a new identity. */
  oldIdentity?: PrivateKey;
};

type Draft = { -readonly [K in keyof NetworkDefinitionDocument]: NetworkDefinitionDocument[K] };

function commit(draft: Draft): NetworkDefinition {
  return assertNetworkDefinition(draft);
}

/** A mutable shallow copy of def with the revision bumped; resources are shared, not copied. */
function nextRevision(def: NetworkDefinition): Draft {
  const draft = { ...def, revision: def.revision + 1, resources: [...def.resources] } as unknown as Draft;
  return draft;
}

function indexOfNode(def: NetworkDefinition, nodeId: string): number {
  const index = def.resources.findIndex((resource) => resource.node === nodeId);
  if (index < 0) throw new UnknownNodeError(nodeId, def.name);
  return index;
}

/** Endpoints of a record, canonical and completed with the NR's listen port. */
function qualifiedEndpoints(record: NodeRecord, listenPort: number): string[] {
  return record.endpoints.map((text) => {
    const parsed = parseEndpoint(text, false);
    return parsed.ok ? formatEndpoint(parsed.value, listenPort) : text; // records are validated
  });
}

/** The lowest /24 of ipRange that no resource uses (and whose WireGuard address is usable). */
export function lowestFreeSubnet(def: NetworkDefinition): string {
  const range = parseCidr(def.ipRange) as Cidr;
  const used = new Set<number>();
  for (const resource of def.resources) used.add((parseCidr(resource.subnet) as Cidr).address >>> 8);
  const { first, last } = rangeOf(range);
  for (let block = first >>> 8; block <= last >>> 8; block++) {
    const subnet = makeCidr(block << 8, SUBNET_PREFIX);
    if (!used.has(block) && wgAddressNumberOf(subnet) !== UNUSABLE_WG_ADDRESS) return formatCidr(subnet);
  }
  throw new AllocationError('/ipRange', `no free /24 left in ipRange ${def.ipRange}`);
}

/** The lowest port >= the network's base port that no resource uses (wrapping to 1024). */
export function lowestFreePort(def: NetworkDefinition): number {
  const used = new Set<number>(def.resources.map((resource) => resource.listenPort));
  const base = basePortOf(def.name);
  for (let port = base; port <= 65535; port++) if (!used.has(port)) return port;
  for (let port = WRAP_PORT_MIN; port < base; port++) if (!used.has(port)) return port;
  throw new AllocationError('/resources', `no free listen port left for network "${def.name}"`);
}

/** A new, empty network at revision 1. */
export function createNetwork(name: string, ipRange: string): NetworkDefinition {
  return commit({ version: DEFINITION_VERSION, name, revision: 1, ipRange, resources: [] });
}

/**
 * Adds the node's NR: a subnet, a port, a fresh key pair sealed to the node's identity. When the
 * node is hidden and the network has no aggregator yet, the first public NR becomes the
 * aggregator (callers can tell by comparing `aggregator`), so nodes can join in any order.
 */
export function addNode(
  def: NetworkDefinition,
  record: NodeRecord,
  keys: KeySource,
  options: AddNodeOptions = {},
): NetworkDefinition {
  const draft = nextRevision(def);
  const listenPort = options.listenPort ?? lowestFreePort(def);
  const subnet = options.subnet ?? lowestFreeSubnet(def);
  const pair = keys.generateKeyPair();
  const resource: Resource = {
    node: record.id,
    subnet,
    wgPublicKey: pair.publicKey,
    wgPrivateKeySealed: keys.seal(pair.privateKey, record.identityKey),
    listenPort,
    endpoints: qualifiedEndpoints(record, listenPort),
    hidden: record.hidden,
    identityKey: record.identityKey,
  };
  draft.resources.push(resource as Draft['resources'][number]);
  if (record.hidden && draft.aggregator === undefined && draft.aggregators === undefined) {
    const candidate = def.resources.find((other) => !other.hidden && other.endpoints.length > 0);
    if (candidate) draft.aggregator = candidate.node;
  }
  return commit(draft);
}

/**
 * Removes the node's NR; its subnet and port become free. The exit cannot be removed (that would
 * silently change where the network egresses); the aggregator only when no NR is hidden.
 */
export function removeNode(def: NetworkDefinition, nodeId: string): NetworkDefinition {
  const index = indexOfNode(def, nodeId);
  if (def.exit === nodeId) {
    throw new NetdefValidationError([
      {
        path: '/exit',
        message: `node "${nodeId}" is the network's exit: set another exit or clear it (set-exit --none) first`,
      },
    ]);
  }
  const draft = nextRevision(def);
  draft.resources.splice(index, 1);
  dropIdentityChange(draft, nodeId);
  const aggregators = aggregatorsOf(def);
  if (aggregators.includes(nodeId)) {
    const rest = aggregators.filter((node) => node !== nodeId);
    if (rest.length === 0 && draft.resources.some((resource) => resource.hidden)) {
      throw new NetdefValidationError([
        {
          path: def.aggregators === undefined ? '/aggregator' : '/aggregators',
          message: `node "${nodeId}" is the aggregator of hidden NRs: set another aggregator first`,
        },
      ]);
    }
    withAggregators(draft, rest);
  }
  return commit(draft);
}

/** One aggregator is written as `aggregator` (as before there were several), more as `aggregators`. */
function withAggregators(draft: Draft, nodes: readonly string[]): void {
  delete draft.aggregator;
  delete draft.aggregators;
  if (nodes.length === 1) draft.aggregator = nodes[0];
  else if (nodes.length > 1) draft.aggregators = [...nodes];
}

/** Makes nodeId the aggregator (undefined clears it: valid only while no NR is hidden). */
export function setAggregator(def: NetworkDefinition, nodeId: string | undefined): NetworkDefinition {
  return setAggregators(def, nodeId === undefined ? [] : [nodeId]);
}

/** Makes `nodes` the aggregators in this preference order (empty clears them: valid only while no NR is hidden). */
export function setAggregators(def: NetworkDefinition, nodes: readonly string[]): NetworkDefinition {
  const draft = nextRevision(def);
  withAggregators(draft, nodes);
  return commit(draft);
}

/** Makes nodeId the exit (undefined clears it). */
export function setExit(def: NetworkDefinition, nodeId: string | undefined): NetworkDefinition {
  const draft = nextRevision(def);
  if (nodeId === undefined) delete draft.exit;
  else draft.exit = nodeId;
  return commit(draft);
}

/**
 * A reinstalled node (new identity, possibly new endpoints) keeps its subnet, port and WireGuard
 * address. Its NR key is rotated (`rotateKey`), or re-sealed to the new identity, which needs the
 * old identity key to open the existing seal; with an unchanged identity the seal is kept.
 */
export function reprovisionNode(
  def: NetworkDefinition,
  nodeId: string,
  newRecord: NodeRecord,
  options: ReprovisionOptions,
  keys: KeySource,
): NetworkDefinition {
  const index = indexOfNode(def, nodeId);
  const old = def.resources[index] as Resource;
  if (newRecord.id !== nodeId) {
    throw new ReprovisionError('/id', `node record is for node "${newRecord.id}", not "${nodeId}"`);
  }
  let wgPublicKey = old.wgPublicKey;
  let wgPrivateKeySealed = old.wgPrivateKeySealed;
  if (options.rotateKey) {
    const pair = keys.generateKeyPair();
    wgPublicKey = pair.publicKey;
    wgPrivateKeySealed = keys.seal(pair.privateKey, newRecord.identityKey);
  } else if (newRecord.identityKey !== old.identityKey) {
    if (!options.oldIdentity) {
      throw new ReprovisionError(
        '/identityKey',
        `node "${nodeId}" has a new identity: its WireGuard key is sealed to the old one, so re-sealing needs the old identity key; or rotate the key`,
      );
    }
    wgPrivateKeySealed = keys.seal(openResourceKey(old, options.oldIdentity), newRecord.identityKey);
  }
  const draft = nextRevision(def);
  draft.resources[index] = {
    ...old,
    wgPublicKey,
    wgPrivateKeySealed,
    endpoints: qualifiedEndpoints(newRecord, old.listenPort),
    hidden: newRecord.hidden,
    identityKey: newRecord.identityKey,
  } as Draft['resources'][number];
  if (wgPublicKey !== old.wgPublicKey) recordIdentityChange(draft, nodeId, 'reprovision');
  return commit(draft);
}

/**
 * A new WireGuard key pair for the node's NR, sealed to its identity; its peers learn the public
 * key in the same revision, which carries the rotation record pinning asks for.
 */
export function rotateNodeKey(def: NetworkDefinition, nodeId: string, keys: KeySource): NetworkDefinition {
  const index = indexOfNode(def, nodeId);
  const old = def.resources[index] as Resource;
  const pair = keys.generateKeyPair();
  const draft = nextRevision(def);
  draft.resources[index] = {
    ...old,
    wgPublicKey: pair.publicKey,
    wgPrivateKeySealed: keys.seal(pair.privateKey, old.identityKey),
  } as Draft['resources'][number];
  recordIdentityChange(draft, nodeId, 'rotate-key');
  return commit(draft);
}

function recordIdentityChange(draft: Draft, node: string, kind: IdentityChange['kind']): void {
  draft.identityChanges = withIdentityChange(draft.identityChanges, {
    node,
    revision: draft.revision,
    kind,
    fields: ['wgPublicKey'],
  });
}

function dropIdentityChange(draft: Draft, node: string): void {
  const kept = (draft.identityChanges ?? []).filter((c) => c.node !== node);
  if (kept.length > 0) draft.identityChanges = kept;
  else delete draft.identityChanges;
}
