/**
 * src/nr/kernel — kernel access for network resources, with no policy: named namespaces,
 * rtnetlink in any namespace, per-namespace sysctls, nftables tables in a namespace. Everything
 * above (plan/diff/apply, inspect, networkd) reaches the kernel only through this API.
 *
 * Errors: every failure is a `KernelError` { code (errno name; 'EINVAL' for a refused argument,
 * with `field`; 'ENFT' for nft failures, with nft's message in `detail`), operation, object,
 * netns }. A refused argument changes nothing.
 *
 * Namespaces (namespaces.ts)
 *   namespacePath(name: string): string                          // '/run/netns/NAME'
 *   namespaceExists(name: string): boolean
 *   listNamespaces(): string[]                                   // entries of /run/netns, sorted
 *   createNamespace(name: string): Promise<string>              // lo up; EEXIST if present
 *   ensureNamespace(name: string): Promise<{ path: string; created: boolean }>
 *   deleteNamespace(name: string, opts?: { ifMissing?: 'error' | 'ignore' }): boolean
 *   namespaceId(path: string | null): number                    // nsfs inode; compare namespaces
 *
 * Rtnetlink (rtnl.ts): one socket per namespace, reused for every call; close() when done.
 *   Rtnl.open(netnsPath: string | null): Rtnl                   // null: the caller's namespace
 *   rtnl.listLinks(): Promise<LinkState[]>                       // { index, name, kind, up, mtu, master, link, linkNetnsId, mac }
 *   rtnl.getLink(name): Promise<LinkState | null>
 *   rtnl.createVeth(name, peerName, peerNetnsPath: string | null, opts?: { mtu? }): Promise<void>   // EEXIST if taken
 *   rtnl.createBridge(name, opts?: { mtu? }): Promise<void>      // EEXIST if taken
 *   rtnl.setUp(name) / rtnl.setDown(name): Promise<void>         // idempotent
 *   rtnl.setMtu(name, mtu): Promise<void>
 *   rtnl.setMaster(name, bridgeName: string | null): Promise<void>
 *   rtnl.moveToNetns(name, netnsPath, newName?): Promise<void>   // arrives down, addresses dropped
 *   rtnl.deleteLink(name): Promise<boolean>                      // false: was not there
 *   rtnl.listAddresses(link?: string): Promise<AddressState[]>   // { link, index, family, address, prefix, cidr }
 *   rtnl.addAddress(link, cidr): Promise<void>                   // idempotent (replace)
 *   rtnl.deleteAddress(link, cidr): Promise<boolean>             // false: was not there
 *   rtnl.listRoutes(family: 4 | 6 = 4): Promise<RouteState[]>    // main table, unicast:
 *       { family, destination ('0.0.0.0/0' for default), gateway | null, dev | null, protocol, scope, metric }
 *   rtnl.replaceRoute({ destination: CIDR | 'default', gateway?, dev?, metric? }): Promise<void>   // idempotent
 *   rtnl.deleteRoute({ destination, gateway?, dev?, metric? }): Promise<boolean>                  // false: was not there
 *   ENODEV: a named link does not exist. Several calls may be in flight on one Rtnl.
 *
 * Sysctls (sysctl.ts): net.* keys only ('/' in a component = a literal '.', as sysctl(8))
 *   setSysctl(netnsPath: string | null, key: string, value: string | number): void
 *   getSysctl(netnsPath: string | null, key: string): string
 *
 * nftables (nft.ts, builders in nft-rules.ts): one named table, replaced atomically
 *   replaceTable(netnsPath: string | null, family: NftFamily, name: string, table: NftTable): Promise<void>
 *   readTable(netnsPath, family, name): Promise<NftTable | null>
 *   deleteTable(netnsPath, family, name): Promise<void>          // no error if absent
 *   NftTable = { chains: [{ name, hook?: { type, hook, priority, policy }, rules: NftStatement[][] }] }
 *   Rules built with nft-rules.ts read back deep-equal to what was written.
 *
 * Low level (src/native/binding.ts): native().inNetns(path, fn) runs a SYNCHRONOUS, SHORT fn
 * with the JS thread inside the namespace (e.g. to create a socket there), always returning.
 */
export { KernelError, type KernelErrorContext } from './errors.js';
export {
  NETNS_DIR,
  namespacePath,
  namespaceExists,
  listNamespaces,
  createNamespace,
  ensureNamespace,
  deleteNamespace,
  namespaceId,
} from './namespaces.js';
export {
  Rtnl,
  type LinkKind,
  type LinkState,
  type LinkOptions,
  type AddressState,
  type RouteState,
  type RouteSpec,
  type RouteProtocolName,
  type RouteScopeName,
} from './rtnl.js';
export { setSysctl, getSysctl } from './sysctl.js';
export {
  replaceTable,
  readTable,
  deleteTable,
  NFT_PRIORITY,
  type NftFamily,
  type NftChainType,
  type NftHookName,
  type NftPolicy,
  type NftStatement,
  type NftRule,
  type NftBaseChainHook,
  type NftChain,
  type NftTable,
} from './nft.js';
export * as nftRules from './nft-rules.js';
export type { IpFamily } from './ip-address.js';
