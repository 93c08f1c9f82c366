/**
 * Service addresses (DESIGN.md "Service addresses and re-provisioning"): a /32 of the range,
 * outside every NR subnet and every external peer's address, owned by one NR (and optionally one
 * of its workloads). Every other NR's peer entry for the owner carries the /32 in allowed IPs;
 * a hidden owner is reached through the aggregator, whose entry for it carries the /32 too (see
 * derive.ts). Moving a service is one revision: WireGuard moves an allowed IP between peers
 * atomically. Validation and the per-owner lookup live here; the verbs in service-verbs.ts.
 */
import type { ValidationIssue } from './errors.js';
import { type Cidr, containsAddress, makeCidr, parseCidr, parseIpv4 } from './ipv4.js';
import type { NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

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
    if (first !== undefined)
      issues.push({ path: `${base}/name`, message: `duplicate service "${service.name}" (also /services/${first})` });
    else names.set(service.name, index);
    const address = parseIpv4(service.address) as number; // the schema pattern guarantees the syntax
    const inside = subnets.find((s) => containsAddress(s.subnet, address));
    if (range && !containsAddress(range, address))
      issues.push({ path: `${base}/address`, message: `${service.address} is outside ipRange` });
    else if (inside) {
      issues.push({
        path: `${base}/address`,
        message: `${service.address} is inside ${inside.node}'s subnet: a service address is outside every NR subnet`,
      });
    }
    const again = addresses.get(service.address);
    if (again !== undefined)
      issues.push({ path: `${base}/address`, message: `address ${service.address} is also /services/${again}'s` });
    else addresses.set(service.address, index);
    if (peers.has(service.address))
      issues.push({ path: `${base}/address`, message: `address ${service.address} is an external peer's` });
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
