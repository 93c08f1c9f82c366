/**
 * The names of everything networkd creates (docs/network-resources.md "Names") and the rule
 * that decides what is ours: only namespace names and host-namespace objects carry the prefix;
 * names inside ndmz and NR namespaces are private to them.
 */
import { invalidInput } from './errors.js';

declare const prefixBrand: unique symbol;
/** A validated name prefix: up to 8 of [a-z0-9] (empty in production). */
export type Prefix = string & { readonly [prefixBrand]: true };

declare const netIdBrand: unique symbol;
/** 8 lowercase base32 characters (netdef's netIdOf). */
export type NetId = string & { readonly [netIdBrand]: true };

export const MAX_PREFIX_LENGTH = 8;
const PREFIX = /^[a-z0-9]{0,8}$/;
const NET_ID = /^[a-z2-7]{8}$/;

export function parsePrefix(value: unknown, field = 'prefix'): Prefix {
  if (typeof value !== 'string') throw invalidInput(field, 'must be a string');
  if (!PREFIX.test(value)) throw invalidInput(field, `must be 0–${MAX_PREFIX_LENGTH} characters of a-z and 0-9`);
  return value as Prefix;
}

export function parseNetId(value: unknown, field = 'netId'): NetId {
  if (typeof value !== 'string' || !NET_ID.test(value))
    throw invalidInput(field, 'must be 8 characters of a-z and 2-7 (a network id)');
  return value as NetId;
}

export const RUN_NETNS_DIR = '/run/netns';

export function netnsPathOf(name: string): string {
  return `${RUN_NETNS_DIR}/${name}`;
}

export const ndmzNamespaceName = (prefix: Prefix): string => `${prefix}ndmz`;
export const nrNamespaceName = (prefix: Prefix, netId: NetId): string => `${prefix}n-${netId}`;
export const hostVethName = (prefix: Prefix): string => `${prefix}ndmz0`;
export const hostTableName = (prefix: Prefix): string => `${prefix}zmesh`;

/** Links inside ndmz. */
export const NDMZ_UPLINK = 'npub';
export const NDMZ_BRIDGE = 'br-nr';
export const ndmzPortName = (netId: NetId): string => `p-${netId}`;

/** Links inside an NR. */
export const NR_UPLINK = 'public';
export const NR_BRIDGE = 'br0';
export const wgDeviceName = (netId: NetId): string => `w-${netId}`;

/** The nft table zmesh owns inside ndmz and NR namespaces. */
export const TABLE_NAME = 'zmesh';

/** The netId of an NR namespace of this prefix, or null when the name is not one of ours. */
export function netIdOfNamespace(prefix: Prefix, name: string): NetId | null {
  const head = `${prefix}n-`;
  if (!name.startsWith(head)) return null;
  const rest = name.slice(head.length);
  return NET_ID.test(rest) ? (rest as NetId) : null;
}

/** The netId of a WireGuard device name `w-<netId>`, or null. */
export function netIdOfWgDevice(name: string): NetId | null {
  if (!name.startsWith('w-')) return null;
  const rest = name.slice(2);
  return NET_ID.test(rest) ? (rest as NetId) : null;
}

/** True for every namespace networkd with this prefix owns. */
export function isOwnedNamespace(prefix: Prefix, name: string): boolean {
  return name === ndmzNamespaceName(prefix) || netIdOfNamespace(prefix, name) !== null;
}
