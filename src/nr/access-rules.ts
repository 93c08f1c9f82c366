/**
 * The NR's access rules in nftables (docs/network-resources.md "Access control"): netdef's
 * AccessPolicy, compiled rule for rule and in the same order, so that `zmesh net explain`
 * (netdef/access.ts explainFlow) evaluates exactly what the kernel does. They follow the diode in
 * the NR's forward chain, after `ct state established,related accept`, so replies always pass:
 *
 *   iifname != "w-X" oifname != "w-X" accept            # not crossing the mesh: not ours to filter
 *   ip saddr { FROM } ip daddr { TO } [proto/ports] accept   # one per rule of the policy
 *   ip daddr RANGE drop                                   # default: deny into the range
 *
 * and the same in the input chain for what arrives from the device (`iifname != "w-X" accept`
 * first): a packet from the mesh to the NR's own gateway address is judged like one to a workload.
 *
 * Every NR carries the whole policy, so a flow is checked where it leaves the mesh's source NR
 * (workload → WireGuard), where it enters the destination NR (WireGuard → workload) and on the
 * aggregator's relay hop (WireGuard → WireGuard): no NR can open what another refuses.
 */
import {
  type AccessPolicy,
  type AccessRule,
  type Cidr,
  containsAddress,
  parseCidr,
  parseIpv4,
} from '../netdef/index.js';
import { accept, dportIn, drop, iifname, ipAddrIn, ipDaddr, l4proto, oifname } from './kernel/nft-rules.js';
import type { NftStatement } from './nft.js';

type Rule = readonly NftStatement[];

function protocolMatch(rule: AccessRule): NftStatement[] {
  if (rule.protocol === null) return [];
  if (rule.ports !== null && rule.protocol !== 'icmp') return [dportIn(rule.protocol, rule.ports)];
  return [l4proto(rule.protocol)];
}

function policyRules(policy: AccessPolicy, rules: readonly AccessRule[] = policy.rules): Rule[] {
  return [
    ...rules.map(
      (rule): Rule => [ipAddrIn('saddr', rule.from), ipAddrIn('daddr', rule.to), ...protocolMatch(rule), accept()],
    ),
    [ipDaddr(policy.range), drop()],
  ];
}

/** The NR table's rules enforcing `policy` on the NR whose WireGuard device is `wgDevice`. */
export interface AccessChains {
  /** After the diode in forward: traffic crossing the mesh (to, from or through the device). */
  readonly forward: Rule[];
  /** After the diode in input: what arrives from the mesh for the NR's own addresses (its gateway). */
  readonly input: Rule[];
}

/**
 * `own` are the NR's own addresses inside the range (its gateway, and the service addresses it
 * holds on its bridge): the input chain keeps only the rules whose destinations include one of
 * them (the others can never match there), so it stays short at any scale.
 */
export function accessRules(policy: AccessPolicy, wgDevice: string, own: readonly string[]): AccessChains {
  const addresses = own.map(parseIpv4).filter((a): a is number => a !== undefined);
  const towardsNr = policy.rules.filter((rule) =>
    rule.to.some((cidr) => addresses.some((address) => containsAddress(parseCidr(cidr) as Cidr, address))),
  );
  return {
    forward: [[iifname(wgDevice, '!='), oifname(wgDevice, '!='), accept()], ...policyRules(policy)],
    input: [[iifname(wgDevice, '!='), accept()], ...policyRules(policy, towardsNr)],
  };
}
