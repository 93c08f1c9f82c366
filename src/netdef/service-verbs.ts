/**
 * The verbs of service addresses (services.ts): add, move, remove. Each returns the next revision,
 * validated; an omitted address is allocated from the block external peers come from.
 */
import { NetdefValidationError } from './errors.js';
import { freeExternalAddress } from './external-peers.js';
import { assertNetworkDefinition } from './parse.js';
import type { NetworkDefinition, Service } from './schema.js';

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
export function addService(
  def: NetworkDefinition,
  service: Omit<Service, 'address'> & { address?: string },
): NetworkDefinition {
  const address = service.address ?? freeExternalAddress(def);
  if (address === undefined)
    throw new NetdefValidationError([
      { path: '/services', message: `no free address left in ${def.ipRange} outside the NR subnets` },
    ]);
  return withServices(def, [...(def.services ?? []), { ...service, address }]);
}

/** Gives a service to another node (and workload there); its address stays. */
export function moveService(def: NetworkDefinition, name: string, node: string, workload?: string): NetworkDefinition {
  const services = def.services ?? [];
  if (!services.some((s) => s.name === name)) throw unknownService(def, name);
  return withServices(
    def,
    services.map((s) =>
      s.name === name ? { name: s.name, address: s.address, node, ...(workload === undefined ? {} : { workload }) } : s,
    ),
  );
}

/** Removes a service; its address is free for the next one. */
export function removeService(def: NetworkDefinition, name: string): NetworkDefinition {
  const services = def.services ?? [];
  if (!services.some((s) => s.name === name)) throw unknownService(def, name);
  return withServices(
    def,
    services.filter((s) => s.name !== name),
  );
}
