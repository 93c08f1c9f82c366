/**
 * How an NR delivers the service addresses it owns (netdef's services, DESIGN.md "Service
 * addresses and re-provisioning"), as plan entries diff and apply treat like any other:
 * - a service named for a workload: a /32 route on the NR's bridge via that workload's own
 *   address, so the frame goes out the workload's veth (the workload holds the /32 as a second
 *   address, workload-link.ts). The route names the workload's address rather than its veth:
 *   the veth is a bridge port, whose neighbour answers the bridge alone would hear; and a move
 *   between two workloads of one NR is one route replace, not a stale neighbour entry;
 * - a service named for no workload: the /32 held on the NR's bridge (the NR answers it).
 * A service whose workload is not attached here gets nothing until it is (networkd re-plans at
 * attach). The NR plan owns its routes and its bridge's addresses, so a service that moved away
 * or was removed leaves no route and no address behind.
 */
import { type NodeResource, formatCidr, parseCidr } from '../netdef/index.js';
import { invalidInput } from './errors.js';
import type { AddressPlan, RoutePlan, SysctlPlan } from './model.js';
import { NR_BRIDGE } from './names.js';

export interface ServiceRouting {
  readonly routes: RoutePlan[];
  /** Addresses of the NR's bridge besides its gateway address. */
  readonly held: AddressPlan[];
  readonly sysctls: SysctlPlan[];
}

/**
 * A route via a workload on the bridge a packet came in on makes the kernel send the sender an
 * ICMP redirect; a workload of the same NR would then send the service address straight to the
 * workload holding it — and keep doing so for 5 minutes after the service moved. An NR that
 * routes services sends no redirects (both keys: the kernel sends one when either is set). Left
 * so when its services go: a redirect needs a route via a workload, which only a service plans.
 */
const NO_REDIRECTS: SysctlPlan[] = [
  { key: 'net.ipv4.conf.all.send_redirects', value: '0' },
  { key: `net.ipv4.conf.${NR_BRIDGE}.send_redirects`, value: '0' },
];

/** `workloadAddresses`: each attached workload's id → its address in the NR's subnet. */
export function serviceRouting(resource: NodeResource, workloadAddresses: ReadonlyMap<string, string>): ServiceRouting {
  const routes: RoutePlan[] = [];
  const held: AddressPlan[] = [];
  (resource.services ?? []).forEach((service, i) => {
    const cidr = parseCidr(`${service.address}/32`);
    if (!cidr) throw invalidInput(`resource.services[${i}].address`, `"${service.address}" is not an IPv4 address`);
    const destination = formatCidr(cidr);
    if (service.workload === null) {
      held.push({ link: NR_BRIDGE, cidr: destination });
      return;
    }
    const via = workloadAddresses.get(service.workload);
    if (via !== undefined) routes.push({ destination, gateway: via, link: NR_BRIDGE });
  });
  return { routes, held, sysctls: routes.length > 0 ? NO_REDIRECTS : [] };
}
