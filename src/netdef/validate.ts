/**
 * The semantic half of parsing: rules a schema cannot express (address plan, uniqueness, roles).
 * Works on structurally valid documents and reports every problem it finds, each with the JSON
 * path of the field to fix. Linear in the number of resources (index maps, no pairwise scans).
 */

import {
  MAX_RANGE_PREFIX,
  MIN_RANGE_PREFIX,
  RESERVED_RANGES,
  SUBNET_PREFIX,
  UNUSABLE_WG_ADDRESS,
  WG_NETWORK,
  wgAddressNumberOf,
} from './addressing.js';
import { accessIssues } from './access.js';
import { aggregatorIssues } from './aggregators.js';
import { parseEndpoint } from './endpoint.js';
import { externalPeerIssues } from './external-peers.js';
import { serviceIssues } from './services.js';
import { trustLogIssue } from './trust-log.js';
import type { ValidationIssue } from './errors.js';
import {
  type Cidr,
  containsCidr,
  formatCidr,
  formatIpv4,
  isNetworkAddress,
  makeCidr,
  maskOf,
  overlaps,
  parseCidr,
} from './ipv4.js';
import type { NetworkDefinitionDocument, NodeRecordDocument, ResourceDocument } from './schema.js';
import { quote } from './structural.js';

type Issues = ValidationIssue[];

/** Checks ipRange; returns the parsed range when it is usable for the subnet checks. */
function checkRange(text: string, issues: Issues): Cidr | undefined {
  const range = parseCidr(text) as Cidr; // the schema pattern guarantees the syntax
  let usable = true;
  if (!isNetworkAddress(range)) {
    const fixed = makeCidr(range.address & maskOf(range.prefix), range.prefix);
    issues.push({
      path: '/ipRange',
      message: `ipRange ${text} is not a network address (host bits set); did you mean ${formatCidr(fixed)}?`,
    });
    usable = false;
  }
  if (range.prefix < MIN_RANGE_PREFIX) {
    issues.push({
      path: '/ipRange',
      message: `ipRange ${text} is wider than /${MIN_RANGE_PREFIX}: two of its /24s would get the same WireGuard address (100.64.A.B)`,
    });
    usable = false;
  } else if (range.prefix > MAX_RANGE_PREFIX) {
    issues.push({
      path: '/ipRange',
      message: `ipRange ${text} is narrower than /${MAX_RANGE_PREFIX}: it must hold at least one /24`,
    });
    usable = false;
  }
  for (const reserved of RESERVED_RANGES) {
    if (overlaps(range, reserved.cidr)) {
      issues.push({
        path: '/ipRange',
        message: `ipRange ${text} overlaps ${formatCidr(reserved.cidr)} (${reserved.why})`,
      });
      usable = false;
    }
  }
  return usable ? range : undefined;
}

/** Reports endpoints that do not parse; `requirePort` in definitions. */
function checkEndpoints(endpoints: readonly string[], base: string, requirePort: boolean, issues: Issues): void {
  endpoints.forEach((endpoint, index) => {
    const parsed = parseEndpoint(endpoint, requirePort);
    if (!parsed.ok)
      issues.push({
        path: `${base}/endpoints/${index}`,
        message: `malformed endpoint ${quote(endpoint)}: ${parsed.reason}`,
      });
  });
}

function owner(index: number, resource: ResourceDocument): string {
  return `/resources/${index} (node ${resource.node})`;
}

/** Records `key` for resource `index`; reports a duplicate at the later occurrence. */
function checkUnique(
  seen: Map<string | number, number>,
  key: string | number,
  index: number,
  resources: readonly ResourceDocument[],
  issue: (first: string) => ValidationIssue,
  issues: Issues,
): void {
  const first = seen.get(key);
  const firstResource = first === undefined ? undefined : resources[first];
  if (first !== undefined && firstResource) issues.push(issue(owner(first, firstResource)));
  else seen.set(key, index);
}

function checkSubnet(
  resource: ResourceDocument,
  base: string,
  range: Cidr | undefined,
  issues: Issues,
): Cidr | undefined {
  const subnet = parseCidr(resource.subnet) as Cidr;
  const path = `${base}/subnet`;
  if (subnet.prefix !== SUBNET_PREFIX) {
    issues.push({ path, message: `subnet ${resource.subnet} must be a /${SUBNET_PREFIX}` });
    return undefined;
  }
  if (!isNetworkAddress(subnet)) {
    issues.push({ path, message: `subnet ${resource.subnet} is not a network address (host bits set)` });
    return undefined;
  }
  if (range && !containsCidr(range, subnet)) {
    issues.push({ path, message: `subnet ${resource.subnet} is outside ipRange ${formatCidr(range)}` });
    return undefined;
  }
  if (wgAddressNumberOf(subnet) === UNUSABLE_WG_ADDRESS) {
    issues.push({
      path,
      message: `subnet ${resource.subnet} would get WireGuard address ${formatIpv4(UNUSABLE_WG_ADDRESS)}, the broadcast address of ${formatCidr(WG_NETWORK)}`,
    });
    return undefined;
  }
  return subnet;
}

function checkRoles(def: NetworkDefinitionDocument, byNode: Map<string, ResourceDocument>, issues: Issues): void {
  issues.push(...aggregatorIssues(def, byNode));
  if (def.exit !== undefined) {
    const exit = byNode.get(def.exit);
    if (!exit) {
      issues.push({ path: '/exit', message: `exit "${def.exit}" is not a member of the network` });
    } else if (exit.hidden) {
      issues.push({
        path: '/exit',
        message: `exit "${def.exit}" is hidden: a hidden exit is refused (an exit must be a public NR)`,
      });
    }
  }
}

/** Every semantic problem of a structurally valid definition. */
export function semanticIssuesOfDefinition(def: NetworkDefinitionDocument): ValidationIssue[] {
  const issues: Issues = [];
  const range = checkRange(def.ipRange, issues);
  const nodes = new Map<string | number, number>();
  const subnets = new Map<string | number, number>();
  const wgKeys = new Map<string | number, number>();
  const identities = new Map<string | number, number>();
  const ports = new Map<string | number, number>();
  const byNode = new Map<string, ResourceDocument>();
  const resources = def.resources;
  resources.forEach((resource, index) => {
    const base = `/resources/${index}`;
    checkUnique(
      nodes,
      resource.node,
      index,
      resources,
      (first) => ({ path: `${base}/node`, message: `duplicate node "${resource.node}" (also ${first})` }),
      issues,
    );
    if (!byNode.has(resource.node)) byNode.set(resource.node, resource);
    const subnet = checkSubnet(resource, base, range, issues);
    if (subnet) {
      // All checked subnets are aligned /24s, so two overlap exactly when they are equal.
      checkUnique(
        subnets,
        subnet.address,
        index,
        resources,
        (first) => ({ path: `${base}/subnet`, message: `subnet ${resource.subnet} overlaps ${first}` }),
        issues,
      );
    }
    checkUnique(
      wgKeys,
      resource.wgPublicKey,
      index,
      resources,
      (first) => ({ path: `${base}/wgPublicKey`, message: `duplicate wgPublicKey (also ${first})` }),
      issues,
    );
    checkUnique(
      identities,
      resource.identityKey,
      index,
      resources,
      (first) => ({
        path: `${base}/identityKey`,
        message: `duplicate identityKey (also ${first}): one node identity has one NR per network`,
      }),
      issues,
    );
    checkUnique(
      ports,
      resource.listenPort,
      index,
      resources,
      (first) => ({
        path: `${base}/listenPort`,
        message: `port clash: listenPort ${resource.listenPort} is also used by ${first}`,
      }),
      issues,
    );
    checkEndpoints(resource.endpoints, base, true, issues);
    if (!resource.hidden && resource.endpoints.length === 0) {
      issues.push({
        path: `${base}/endpoints`,
        message: `public NR "${resource.node}" needs at least one endpoint (or hidden: true)`,
      });
    }
  });
  checkRoles(def, byNode, issues);
  const recorded = new Set<string>();
  (def.identityChanges ?? []).forEach((change, index) => {
    const base = `/identityChanges/${index}`;
    if (!byNode.has(change.node))
      issues.push({ path: `${base}/node`, message: `no NR of node "${change.node}" in this network` });
    if (recorded.has(change.node))
      issues.push({
        path: `${base}/node`,
        message: `a second record for node "${change.node}" (keep the latest only)`,
      });
    recorded.add(change.node);
    if (change.revision > def.revision)
      issues.push({
        path: `${base}/revision`,
        message: `revision ${change.revision} is after the definition's ${def.revision}`,
      });
  });
  issues.push(...accessIssues(def, range));
  issues.push(...externalPeerIssues(def, range));
  issues.push(...serviceIssues(def, range));
  const trustLog = trustLogIssue(def.trust ?? []);
  if (trustLog !== null) issues.push({ path: '/trust', message: trustLog });
  return issues;
}

/** Every semantic problem of a structurally valid node record. */
export function semanticIssuesOfNodeRecord(record: NodeRecordDocument): ValidationIssue[] {
  const issues: Issues = [];
  checkEndpoints(record.endpoints, '', false, issues);
  if (!record.hidden && record.endpoints.length === 0) {
    issues.push({ path: '/endpoints', message: 'a public node needs at least one endpoint (or hidden: true)' });
  }
  return issues;
}
