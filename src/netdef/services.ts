/**
 * Service addresses (DESIGN.md "Service addresses and re-provisioning"): a /32 of the range,
 * outside every NR subnet and every external peer's address, owned by one NR (and optionally one
 * of its workloads). Every other NR's peer entry for the owner carries the /32 in allowed IPs;
 * a hidden owner is reached through the aggregator, whose entry for it carries the /32 too (see
 * derive.ts). Moving a service is one revision: WireGuard moves an allowed IP between peers
 * atomically. Validation, the verbs and the per-owner lookup live here.
 */
import { NetdefValidationError, type ValidationIssue } from './errors.js';
import { freeExternalAddress } from './external-peers.js';
import { type Cidr, containsAddress, makeCidr, parseCidr, parseIpv4 } from './ipv4.js';
import { assertNetworkDefinition } from './parse.js';
import type { NetworkDefinition, NetworkDefinitionDocument, Service } from './schema.js';

/** Every problem of `services`; `range` is the parsed ipRange when usable. */
export function serviceIssues(def: NetworkDefinitionDocument, range: Cidr | undefined): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  const peers = new Set((def.externalPeers ?? []).map((p) => p.address));
  const subnets = def.resources.map((r) => ({ node: r.node, subnet: parseCidr(r.subnet) as Cidr }));
  (def.services ?? []).forEach((service, index) => {
    const base = `/services/${index}`;
    const first = names.get(service.name);
    if (first !== undefined) issues.push({ path: `${base}/name`, message: `duplicate service "${service.name}" (also /services/${first})` });
    else names.set(service.name, index);
    const address = parseIpv4(service.address) as number; // the schema pattern guarantees the syntax
    const inside = subnets.find((s) => containsAddress(s.subnet, address));
    if (range && !containsAddress(range, address)) issues.push({ path: `${base}/address`, message: `${service.address} is outside ipRange` });
    else if (inside) {
      issues.push({ path: `${base}/address`, message: `${service.address} is inside ${inside.node}'s subnet: a service address is outside every NR subnet` });
    }
    const again = addresses.get(service.address);
    if (again !== undefined) issues.push({ path: `${base}/address`, message: `address ${service.address} is also /services/${again}'s` });
    else addresses.set(service.address, index);
    if (peers.has(service.address)) issues.push({ path: `${base}/address`, message: `address ${service.address} is an external peer's` });
    if (!def.resources.some((r) => r.node === service.node)) {
      issues.push({ path: `${base}/node`, message: `node "${service.node}" is not a member of the network` });
    }
  });
  return issues;
}

/** The /32s of the services `node` owns. */
export function serviceCidrsOf(def: NetworkDefinition, node: string): Cidr[] {
  return (def.services ?? []).filter((s) => s.node === node).map((s) => makeCidr(parseIpv4(s.address) as number, 32));
}

function withServices(def: NetworkDefinition, services: readonly Service[]): NetworkDefinition {
  const { services: _old, ...rest } = def;
  return assertNetworkDefinition({ ...rest, revision: def.revision + 1, ...(services.length > 0 ? { services } : {}) });
}

function unknownService(def: NetworkDefinition, name: string): NetdefValidationError {
  return new NetdefValidationError([{ path: '/services', message: `no service "${name}" in network "${def.name}"` }]);
}

/**
 * Adds a service; without `address`, the highest free address of the range outside every NR
 * subnet (the block external peers are allocated from, from the top down).
 */
export function addService(def: NetworkDefinition, service: Omit<Service, 'address'> & { address?: string }): NetworkDefinition {
  const address = service.address ?? freeExternalAddress(def);
  if (address === undefined) throw new NetdefValidationError([{ path: '/services', message: `no free address left in ${def.ipRange} outside the NR subnets` }]);
  return withServices(def, [...(def.services ?? []), { ...service, address }]);
}

/** Gives a service to another node (and workload there); its address stays. */
export function moveService(def: NetworkDefinition, name: string, node: string, workload?: string): NetworkDefinition {
  const services = def.services ?? [];
  if (!services.some((s) => s.name === name)) throw unknownService(def, name);
  return withServices(
    def,
    services.map((s) => (s.name === name ? { name: s.name, address: s.address, node, ...(workload === undefined ? {} : { workload }) } : s)),
  );
}

/** Removes a service; its address is free for the next one. */
export function removeService(def: NetworkDefinition, name: string): NetworkDefinition {
  const services = def.services ?? [];
  if (!services.some((s) => s.name === name)) throw unknownService(def, name);
  return withServices(def, services.filter((s) => s.name !== name));
}
