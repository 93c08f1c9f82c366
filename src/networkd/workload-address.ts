/**
 * Workload addresses in an NR's /24: the asked one when it is usable and free, otherwise the
 * lowest free. Never the network address (.0), the gateway (.1, on the NR's br0) or the
 * broadcast address (.255). Pure: the caller gives the subnet and the addresses already taken.
 */
import { type Cidr, containsAddress, formatIpv4, parseCidr, parseIpv4 } from '../netdef/index.js';
import { conflict, invalid } from './errors.js';

export const WORKLOAD_PREFIX = 24;

/** Host numbers 2..254 of the /24, lowest first. */
function* usableHosts(subnet: Cidr): Generator<number> {
  for (let host = 2; host <= 254; host++) yield (subnet.address + host) >>> 0;
}

function subnetOf(text: string): Cidr {
  const subnet = parseCidr(text);
  if (!subnet || subnet.prefix !== WORKLOAD_PREFIX) throw new Error(`workload subnet ${text} is not a /24`); // validated definitions only
  return subnet;
}

/**
 * The address for a workload. `asked`: the request's `ip` (plain dotted quad), checked against
 * the subnet and `taken`. Errors name the field `ip`: outside/reserved → 400, taken → 409,
 * subnet full → 409.
 */
export function allocateWorkloadAddress(subnetText: string, taken: ReadonlySet<string>, asked?: string): string {
  const subnet = subnetOf(subnetText);
  if (asked !== undefined) {
    const address = parseIpv4(asked);
    if (address === undefined)
      throw invalid('ip', `"${asked.slice(0, 64)}" is not an IPv4 address (dotted quad, no prefix length)`);
    if (!containsAddress(subnet, address)) throw invalid('ip', `${asked} is outside the NR's subnet ${subnetText}`);
    const host = address & 255;
    if (host === 0) throw invalid('ip', `${asked} is the subnet's network address`);
    if (host === 1) throw invalid('ip', `${asked} is the subnet's gateway`);
    if (host === 255) throw invalid('ip', `${asked} is the subnet's broadcast address`);
    if (taken.has(asked)) throw conflict('ip', `${asked} is already taken by another workload`);
    return asked;
  }
  for (const address of usableHosts(subnet)) {
    const text = formatIpv4(address);
    if (!taken.has(text)) return text;
  }
  throw conflict('ip', `no free address left in ${subnetText} (253 workloads attached)`);
}
