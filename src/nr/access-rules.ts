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
 * Every NR carries the whole policy, so a flow is checked where it leaves the mesh's source NR
 * (workload → WireGuard), where it enters the destination NR (WireGuard → workload) and on the
 * aggregator's relay hop (WireGuard → WireGuard): no NR can open what another refuses.
 */
import type { AccessPolicy, AccessRule } from '../netdef/index.js';
import { accept, dportIn, drop, iifname, ipAddrIn, ipDaddr, l4proto, oifname } from './kernel/nft-rules.js';
import type { NftStatement } from './nft.js';

type Rule = readonly NftStatement[];

function protocolMatch(rule: AccessRule): NftStatement[] {
  if (rule.protocol === null) return [];
  if (rule.ports !== null && rule.protocol !== 'icmp') return [dportIn(rule.protocol, rule.ports)];
  return [l4proto(rule.protocol)];
}

/** The forward-chain rules enforcing `policy` on the NR whose WireGuard device is `wgDevice`. */
export function accessRules(policy: AccessPolicy, wgDevice: string): Rule[] {
  return [
    [iifname(wgDevice, '!='), oifname(wgDevice, '!='), accept()],
    ...policy.rules.map(
      (rule): Rule => [ipAddrIn('saddr', rule.from), ipAddrIn('daddr', rule.to), ...protocolMatch(rule), accept()],
    ),
    [ipDaddr(policy.range), drop()],
  ];
}
