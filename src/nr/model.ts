/**
 * The shapes plan, inspect and diff share: what a namespace should hold (a NamespacePlan) and
 * what it holds (an ObservedNamespace), in the same vocabulary so that diff compares like with
 * like. Addresses and prefixes are canonical text ("100.127.0.1/16", "0.0.0.0/0"), produced by
 * netdef's formatter on the plan side and by the kernel layer on the observed side.
 */
import type { AccessPolicy } from '../netdef/index.js';
import type { NftTable } from './nft.js';
import type { WgDesiredConfig, WgDeviceStatus } from './wg-types.js';

/** A network namespace: the node's own (whatever namespace networkd runs in) or one under /run/netns. */
export type NetnsRef = { readonly kind: 'host' } | { readonly kind: 'named'; readonly name: string };

export const HOST_NETNS: NetnsRef = Object.freeze({ kind: 'host' });

export function namedNetns(name: string): NetnsRef {
  return { kind: 'named', name };
}

/** A stable key for maps and messages: "host" or the namespace's name. */
export function netnsKey(ref: NetnsRef): string {
  return ref.kind === 'host' ? 'host' : ref.name;
}

/**
 * How a missing link comes to exist:
 * - veth-pair: this end creates the pair, the other end named `peer` in namespace `peerNetns`;
 * - veth-peer: made by the veth-pair of the other end (it has no step of its own);
 * - bridge: a new bridge;
 * - wireguard: the WgBackend makes it (TUN or kernel link);
 * - loopback: `lo`, which every namespace has.
 */
export type LinkCreation =
  | { readonly kind: 'veth-pair'; readonly peerNetns: NetnsRef; readonly peer: string }
  | { readonly kind: 'veth-peer'; readonly pairNetns: NetnsRef; readonly pair: string }
  | { readonly kind: 'bridge' }
  | { readonly kind: 'wireguard' }
  | { readonly kind: 'loopback' };

export interface LinkPlan {
  readonly name: string;
  readonly create: LinkCreation;
  /** null: whatever the kernel chose (lo). */
  readonly mtu: number | null;
  /** The bridge this link is a port of. */
  readonly master: string | null;
  readonly up: boolean;
}

export interface AddressPlan {
  readonly link: string;
  /** "a.b.c.d/len" */
  readonly cidr: string;
}

/** A main-table IPv4 route. Routes the kernel makes for connected prefixes are never planned. */
export interface RoutePlan {
  /** Canonical prefix, "0.0.0.0/0" for the default route. */
  readonly destination: string;
  readonly gateway: string | null;
  readonly link: string;
}

export interface SysctlPlan {
  /** Dotted key, e.g. "net.ipv4.ip_forward". */
  readonly key: string;
  readonly value: string;
}

/** Everything zmesh wants in one namespace (or in the part of it this plan covers). */
export interface NamespacePlan {
  readonly netns: NetnsRef;
  /** Create the namespace when it is missing (false: the host, or a slice of ndmz planned by an NR). */
  readonly create: boolean;
  readonly links: readonly LinkPlan[];
  /** Per planned link: exactly these IPv4 addresses (others on that link are removed). */
  readonly addresses: readonly AddressPlan[];
  readonly routes: readonly RoutePlan[];
  /** The main table's non-kernel IPv4 routes are all ours: remove the ones not planned. */
  readonly ownsRoutes: boolean;
  readonly sysctls: readonly SysctlPlan[];
  /** Whole tables, replaced atomically when they differ. */
  readonly nftTables: readonly NftTable[];
  /** After a table of this namespace is replaced: cut the tracked connections this policy denies. */
  readonly cutDeniedFlows?: AccessPolicy;
}

export interface ObservedLink {
  readonly name: string;
  /** IFLA_INFO_KIND ("veth", "bridge", "tun", "wireguard", ...), "" when the kernel gives none. */
  readonly kind: string;
  readonly mtu: number;
  readonly master: string | null;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
}

export interface ObservedRoute extends RoutePlan {}

/** What one namespace holds, limited to what a plan asks about. */
export interface ObservedNamespace {
  readonly netns: NetnsRef;
  readonly exists: boolean;
  readonly links: readonly ObservedLink[];
  /** IPv4 addresses of the links (all links; diff looks only at planned ones). */
  readonly addresses: readonly AddressPlan[];
  /** Main-table IPv4 routes not made by the kernel (proto kernel excluded). */
  readonly routes: readonly ObservedRoute[];
  /** Values of the planned keys; a key that cannot be read is absent. */
  readonly sysctls: Readonly<Record<string, string>>;
  /** The planned tables that exist, read back (absent ones are missing). */
  readonly nftTables: readonly NftTable[];
}

/** The node-wide part: the host's end of the ndmz veth, its nft table and sysctl, and ndmz. */
export interface DesiredNdmz {
  readonly namespaces: readonly NamespacePlan[];
}

export interface WgDevicePlan {
  readonly name: string;
  /** The NR namespace the device's TUN/link lives in. */
  readonly netns: NetnsRef;
  readonly mtu: number;
  readonly config: WgDesiredConfig;
}

export interface DesiredNr {
  readonly netId: string;
  /** The NR namespace first, then the slice of ndmz the NR needs (its bridge port). */
  readonly namespaces: readonly NamespacePlan[];
  readonly wireguard: WgDevicePlan;
}

export interface ObservedNdmz {
  readonly namespaces: readonly ObservedNamespace[];
}

export interface ObservedNr {
  readonly netId: string;
  readonly namespaces: readonly ObservedNamespace[];
  /** null when the backend has no such device. */
  readonly wireguard: WgDeviceStatus | null;
}
