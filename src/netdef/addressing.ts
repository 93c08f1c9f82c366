/**
 * The fixed address plan of a network: which ranges a user range may not touch, and how an NR's
 * gateway and WireGuard address follow from its /24.
 *
 * WireGuard address: subnet a.A.B.0/24 gives 100.64.A.B inside 100.64.0.0/16 (DESIGN.md). It is
 * unique within a network only while all subnets share their first octet, so ipRange is limited
 * to prefixes /8 … /24 (a wider range would map a.A.B and c.A.B to the same address). The one
 * derived address that cannot be used is 100.64.255.255, the broadcast address of the /16 on the
 * WireGuard device: the subnet that maps to it (x.255.255.0/24) is rejected and skipped by
 * allocation.
 */

import { type Cidr, formatIpv4, makeCidr, parseCidr } from './ipv4.js';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in prefix ${text}`);
  return parsed;
}

/** The on-link network of every NR's WireGuard device. */
export const WG_NETWORK = cidr('100.64.0.0/16');
export const WG_ADDRESS_PREFIX = 16;
/**
 * The MTU of every NR's WireGuard device and of its workloads' links: WireGuard's own default,
 * 1500 less the 80 bytes an IPv6 underlay adds (IPv6 40, UDP 8, WireGuard 32). The one definition:
 * the WireGuard devices (userspace and kernel) and networkd's workloads take it from here.
 */
export const WG_MTU = 1420;
export const DEFAULT_ROUTE = cidr('0.0.0.0/0');
export const SUBNET_PREFIX = 24;
export const MIN_RANGE_PREFIX = 8;
export const MAX_RANGE_PREFIX = 24;
export const UNUSABLE_WG_ADDRESS = 0x6440ffff; // 100.64.255.255

/** Ranges a user range must not overlap, with the reason named in errors. */
export const RESERVED_RANGES: ReadonlyArray<{ cidr: Cidr; why: string }> = [
  { cidr: cidr('0.0.0.0/8'), why: '"this network"' },
  { cidr: cidr('100.64.0.0/10'), why: 'CGNAT space used by zmesh itself' },
  { cidr: cidr('127.0.0.0/8'), why: 'loopback' },
  { cidr: cidr('169.254.0.0/16'), why: 'link-local' },
  { cidr: cidr('224.0.0.0/4'), why: 'multicast' },
  { cidr: cidr('240.0.0.0/4'), why: 'reserved' },
];

/** 100.64.A.B for subnet a.A.B.0/24, as a number. */
export function wgAddressNumberOf(subnet: Cidr): number {
  return (0x64400000 | ((subnet.address >>> 8) & 0xffff)) >>> 0;
}

export function wgAddressOf(subnet: Cidr): string {
  return formatIpv4(wgAddressNumberOf(subnet));
}

export function wgHostCidrOf(subnet: Cidr): Cidr {
  return makeCidr(wgAddressNumberOf(subnet), 32);
}

/** The gateway of an NR subnet: its .1. */
export function gatewayOf(subnet: Cidr): string {
  return formatIpv4((subnet.address + 1) >>> 0);
}
