/**
 * The via NR's rules for pending invitations (netdef/enrolment.ts): a temporary key's /32 may open
 * a TCP connection to the enrolment endpoint (the NR's WireGuard address, from the WireGuard
 * device) and nothing else — not the NR's workloads, not the rest of the mesh, not the NR's other
 * ports — and nothing may open a connection to it. They come before the access rules, so no
 * association can open more for a pending peer.
 *
 *   forward:  iifname "w-X" ip saddr { PENDING } drop
 *             oifname "w-X" ip daddr { PENDING } drop
 *   input:    iifname "w-X" ip saddr { PENDING } ip daddr WGADDR tcp dport PORT accept
 *             iifname "w-X" ip saddr { PENDING } drop
 */
import type { EnrolmentPlan } from '../netdef/index.js';
import { accept, dportIn, drop, iifname, ipAddrIn, ipDaddr, oifname } from './kernel/nft-rules.js';
import type { NftStatement } from './nft.js';

type Rule = readonly NftStatement[];

export function enrolmentRules(
  plan: EnrolmentPlan,
  wgDevice: string,
  wgAddress: string,
): { forward: Rule[]; input: Rule[] } {
  if (plan.pending.length === 0) return { forward: [], input: [] };
  const fromPending = [iifname(wgDevice), ipAddrIn('saddr', plan.pending)];
  return {
    forward: [
      [...fromPending, drop()],
      [oifname(wgDevice), ipAddrIn('daddr', plan.pending), drop()],
    ],
    input: [
      [...fromPending, ipDaddr(`${wgAddress}/32`), dportIn('tcp', [{ first: plan.port, last: plan.port }]), accept()],
      [...fromPending, drop()],
    ],
  };
}
