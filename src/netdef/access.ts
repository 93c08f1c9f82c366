/**
 * Access control (DESIGN.md "Access control"): groups of CIDRs and one-way associations between
 * them. This module is the one place that decides what may pass:
 * - `accessIssues` validates groups and associations (every problem with its JSON path);
 * - `accessPolicyOf` derives the ordered allow rules every NR enforces (src/nr compiles them to
 *   nftables, access-rules.ts);
 * - `explainFlow` answers for one flow by evaluating the same rules in the same order, so the
 *   answer is what the rules enforce, not a second opinion.
 *
 * Semantics: without associations nothing is filtered (the whole network may talk). With them,
 * a new connection whose destination lies in ipRange and which crosses the mesh passes only when
 * an allow rule matches it: an association (from → to, optional protocol and destination ports;
 * the reverse too when bothWays) or a group with intraGroup (its members among themselves).
 * Replies pass by conntrack. An address in no group matches no rule: it is denied.
 * Traffic between two addresses of one NR subnet is bridged on that NR and never filtered.
 */

import type { ValidationIssue } from './errors.js';
import {
  type Cidr,
  canonicalPrefixes,
  containsAddress,
  containsCidr,
  formatCidr,
  isNetworkAddress,
  parseCidr,
  parseIpv4,
} from './ipv4.js';
import type { Association, AssociationDocument, NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

export type AccessProtocol = 'tcp' | 'udp' | 'icmp';

/** An inclusive destination-port range (a single port has first === last). */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** One allow rule: new connections from `from` to `to` (with protocol and ports, when given). */
export interface AccessRule {
  /** Canonical CIDRs (sorted, none inside another). */
  readonly from: readonly string[];
  readonly to: readonly string[];
  /** null: any protocol. */
  readonly protocol: AccessProtocol | null;
  /** null: any port; else sorted, disjoint ranges (only with tcp or udp). */
  readonly ports: readonly PortRange[] | null;
  /** What made the rule, for explain: `association 2 (web -> db)`, `group db (intraGroup)`. */
  readonly origin: string;
}

/** What every NR enforces on traffic crossing the mesh towards `range`: first matching rule allows, else deny. */
export interface AccessPolicy {
  readonly range: string;
  readonly rules: readonly AccessRule[];
}

type Issues = ValidationIssue[];

/** `N` or `N-M` → a range; undefined when out of 1-65535 or reversed. */
export function parsePortSpec(text: string): PortRange | undefined {
  const match = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text);
  if (!match) return undefined;
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  if (first < 1 || last > 65535 || first > last) return undefined;
  return { first, last };
}

/** Sorted, overlapping and adjacent ranges merged (nftables keeps an interval set that way). */
function canonicalPorts(ranges: PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
  const merged: PortRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.first <= last.last + 1)
      merged[merged.length - 1] = { first: last.first, last: Math.max(last.last, range.last) };
    else merged.push(range);
  }
  return merged;
}

/**
 * What an association allows, as a comparable key: ports are compared once merged ("80-443" and
 * "443" allow the same as "80-443"), so validation, dissociate and the compiled rules agree on it.
 */
export function associationKey(a: AssociationDocument | Association): string {
  const ports = a.ports ? canonicalPorts(a.ports.map((p) => parsePortSpec(p) ?? { first: 0, last: 0 })) : null;
  return JSON.stringify([a.from, a.to, a.protocol ?? null, ports, a.bothWays === true]);
}

/** Every problem of groups and associations; `range` is the parsed ipRange when it is usable. */
export function accessIssues(def: NetworkDefinitionDocument, range: Cidr | undefined): ValidationIssue[] {
  const issues: Issues = [];
  const groups = new Map<string, number>();
  (def.groups ?? []).forEach((group, index) => {
    const base = `/groups/${index}`;
    const first = groups.get(group.name);
    if (first !== undefined)
      issues.push({ path: `${base}/name`, message: `duplicate group "${group.name}" (also /groups/${first})` });
    else groups.set(group.name, index);
    const seen = new Map<string, number>();
    group.cidrs.forEach((text, j) => {
      const path = `${base}/cidrs/${j}`;
      const cidr = parseCidr(text) as Cidr; // the schema pattern guarantees the syntax
      if (!isNetworkAddress(cidr)) issues.push({ path, message: `${text} is not a network address (host bits set)` });
      else if (range && !containsCidr(range, cidr))
        issues.push({ path, message: `${text} is outside ipRange ${formatCidr(range)}` });
      const again = seen.get(text);
      if (again !== undefined) issues.push({ path, message: `duplicate CIDR ${text} (also ${base}/cidrs/${again})` });
      else seen.set(text, j);
    });
  });
  const associations = new Map<string, number>();
  (def.associations ?? []).forEach((association, index) => {
    const base = `/associations/${index}`;
    for (const end of ['from', 'to'] as const) {
      if (!groups.has(association[end]))
        issues.push({ path: `${base}/${end}`, message: `group "${association[end]}" is not defined in /groups` });
    }
    if (association.ports !== undefined) {
      if (association.protocol !== 'tcp' && association.protocol !== 'udp') {
        issues.push({ path: `${base}/ports`, message: 'ports need protocol "tcp" or "udp"' });
      }
      association.ports.forEach((text, j) => {
        if (!parsePortSpec(text))
          issues.push({
            path: `${base}/ports/${j}`,
            message: `port "${text}" is not N or N-M with 1 <= N <= M <= 65535`,
          });
      });
    }
    const key = associationKey(association);
    const first = associations.get(key);
    if (first !== undefined)
      issues.push({
        path: base,
        message: `duplicate association: allows what /associations/${first} allows (ports compared merged)`,
      });
    else associations.set(key, index);
  });
  return issues;
}

function cidrsOf(texts: readonly string[]): string[] {
  return canonicalPrefixes(texts.map((text) => parseCidr(text) as Cidr)); // validated definitions only
}

/**
 * The rules of a validated definition, or null when it has no associations (nothing filtered).
 * Associations first, in definition order (each followed by its reverse when bothWays), then the
 * intraGroup groups in definition order. A rule whose side has no CIDR cannot exist (minItems 1).
 */
export function accessPolicyOf(def: NetworkDefinition): AccessPolicy | null {
  const associations = def.associations ?? [];
  if (associations.length === 0) return null;
  const groups = new Map((def.groups ?? []).map((group) => [group.name, cidrsOf(group.cidrs)]));
  const rules: AccessRule[] = [];
  associations.forEach((association, index) => {
    const from = groups.get(association.from) ?? [];
    const to = groups.get(association.to) ?? [];
    const protocol = (association.protocol ?? null) as AccessProtocol | null;
    const ports = association.ports
      ? canonicalPorts(association.ports.map((p) => parsePortSpec(p) as PortRange))
      : null;
    rules.push({
      from,
      to,
      protocol,
      ports,
      origin: `association ${index} (${association.from} -> ${association.to})`,
    });
    if (association.bothWays === true) {
      rules.push({
        from: to,
        to: from,
        protocol,
        ports,
        origin: `association ${index} (${association.to} -> ${association.from}, bothWays)`,
      });
    }
  });
  for (const group of def.groups ?? []) {
    if (group.intraGroup !== true) continue;
    const cidrs = groups.get(group.name) ?? [];
    rules.push({ from: cidrs, to: cidrs, protocol: null, ports: null, origin: `group ${group.name} (intraGroup)` });
  }
  return { range: def.ipRange, rules };
}

/**
 * The prefixes `address` may exchange traffic with under the definition's associations: where
 * it may open connections to and where connections to it may come from (replies ride on those).
 * The whole range when there are no associations (nothing filtered). An external peer routes
 * exactly these into its tunnel, so its wg-quick file shows what it may reach.
 */
export function prefixesTalkingWith(def: NetworkDefinition, address: string): string[] {
  const policy = accessPolicyOf(def);
  if (policy === null) return [def.ipRange];
  const own = flowAddress(address, 'address');
  const prefixes: string[] = [];
  for (const rule of policy.rules) {
    if (inAny(rule.from, own)) prefixes.push(...rule.to);
    if (inAny(rule.to, own)) prefixes.push(...rule.from);
  }
  return cidrsOf(prefixes);
}

/** One new connection (or ICMP echo) to explain. */
export interface Flow {
  readonly from: string;
  readonly to: string;
  readonly protocol: AccessProtocol;
  /** Destination port (tcp/udp); ignored for icmp. */
  readonly port?: number;
}

export interface Verdict {
  readonly allow: boolean;
  /** The rule (its origin) or the default that decided. */
  readonly by: string;
}

function inAny(cidrs: readonly string[], address: number): boolean {
  return cidrs.some((text) => containsAddress(parseCidr(text) as Cidr, address));
}

/** Whether `rule` matches the flow (addresses already parsed). */
export function ruleMatches(
  rule: AccessRule,
  from: number,
  to: number,
  protocol: AccessProtocol,
  port: number | undefined,
): boolean {
  if (!inAny(rule.from, from) || !inAny(rule.to, to)) return false;
  if (rule.protocol !== null && rule.protocol !== protocol) return false;
  if (rule.ports === null) return true;
  return port !== undefined && rule.ports.some((range) => port >= range.first && port <= range.last);
}

/** Parses a flow's addresses; throws a TypeError naming the field when one is malformed. */
function flowAddress(text: string, field: string): number {
  const address = parseIpv4(text);
  if (address === undefined) throw new TypeError(`${field}: "${text}" is not an IPv4 address`);
  return address;
}

/**
 * What the NRs do with a new connection: allowed or denied, and by what. Evaluates the policy's
 * rules in order exactly as the nftables rules do (access-rules.ts emits them in this order).
 */
export function explainFlow(def: NetworkDefinition, flow: Flow): Verdict {
  const from = flowAddress(flow.from, 'from');
  const to = flowAddress(flow.to, 'to');
  const range = parseCidr(def.ipRange) as Cidr;
  if (!containsAddress(range, to))
    return { allow: true, by: `destination outside ipRange ${def.ipRange}: not subject to access control` };
  const local = def.resources.find((r) => {
    const subnet = parseCidr(r.subnet) as Cidr;
    return containsAddress(subnet, from) && containsAddress(subnet, to);
  });
  if (local)
    return {
      allow: true,
      by: `both inside ${local.subnet} (NR ${local.node}): bridged on that NR, never crosses the mesh`,
    };
  const policy = accessPolicyOf(def);
  if (policy === null) return { allow: true, by: 'no associations: the whole network may talk' };
  return policyVerdict(policy, from, to, flow.protocol, flow.protocol === 'icmp' ? undefined : flow.port);
}

/**
 * The policy's verdict on a new connection crossing the mesh (addresses as numbers): the first
 * matching rule allows; else a destination inside the range is denied, any other passes. The
 * order and the default are those of the nftables rules (src/nr/access-rules.ts).
 */
export function policyVerdict(
  policy: AccessPolicy,
  from: number,
  to: number,
  protocol: AccessProtocol,
  port: number | undefined,
): Verdict {
  const rule = policy.rules.find((r) => ruleMatches(r, from, to, protocol, port));
  if (rule) return { allow: true, by: rule.origin };
  if (!containsAddress(parseCidr(policy.range) as Cidr, to))
    return { allow: true, by: `destination outside ipRange ${policy.range}: not subject to access control` };
  return { allow: false, by: 'default: no association allows it' };
}
