/**
 * Pure planning: what the kernel should hold for the node's ndmz (planNdmz) and for one network
 * resource (planNr), as NamespacePlans plus the WireGuard device's desired configuration.
 * Names, addresses, routes, sysctls and rules follow docs/network-resources.md; peers and routes
 * come from netdef's derivation (NodeResource) and are not decided here.
 *
 * Input is checked at this edge (prefix, public address, the resource's own fields that name
 * kernel objects), so diff and apply trust what they get. No I/O; the private key is carried
 * as an opaque PrivateKey and never read here except to check it matches the resource's key.
 */
import {
  type NodeResource,
  type PrivateKey,
  formatCidr,
  isKey,
  parseCidr,
  parseEndpoint,
  formatEndpoint,
} from '../netdef/index.js';
import { PUBLIC_GATEWAY, PUBLIC_PREFIX_LENGTH, parsePublicAddress } from './allocate-public.js';
import { invalidInput } from './errors.js';
import {
  HOST_NETNS,
  type DesiredNdmz,
  type DesiredNr,
  type LinkPlan,
  type NamespacePlan,
  type RoutePlan,
  namedNetns,
} from './model.js';
import {
  NDMZ_BRIDGE,
  NDMZ_UPLINK,
  NR_BRIDGE,
  NR_UPLINK,
  type NetId,
  type Prefix,
  hostVethName,
  ndmzNamespaceName,
  ndmzPortName,
  nrNamespaceName,
  parseNetId,
  parsePrefix,
  wgDeviceName,
} from './names.js';
import { accessRules } from './access-rules.js';
import { enrolmentRules } from './enrolment-rules.js';
import type { NftStatement } from './nft.js';
import { serviceRouting } from './service-routing.js';
import { hostTable, ndmzBridgeTable, ndmzTable, nrTable } from './tables.js';
import type { WgPeerConfig } from './wireguard/backend.js';

export const HOST_NDMZ_ADDRESS = '100.126.0.1/30';
export const NDMZ_UPLINK_ADDRESS = '100.126.0.2/30';
export const NDMZ_GATEWAY = '100.126.0.1';
export const NDMZ_BRIDGE_ADDRESS = `${PUBLIC_GATEWAY}/${PUBLIC_PREFIX_LENGTH}`;
/** MTU of the plain Ethernet links (veths, ndmz's bridge). */
export const ETHERNET_MTU = 1500;
export const DEFAULT_ROUTE = '0.0.0.0/0';
export const IP_FORWARD = { key: 'net.ipv4.ip_forward', value: '1' } as const;

const loopback: LinkPlan = { name: 'lo', create: { kind: 'loopback' }, mtu: null, master: null, up: true };

export function planNdmz(prefixInput: string): DesiredNdmz {
  const prefix = parsePrefix(prefixInput);
  const ndmz = namedNetns(ndmzNamespaceName(prefix));
  const hostVeth = hostVethName(prefix);
  const host: NamespacePlan = {
    netns: HOST_NETNS,
    create: false,
    links: [
      {
        name: hostVeth,
        create: { kind: 'veth-peer', pairNetns: ndmz, pair: NDMZ_UPLINK },
        mtu: ETHERNET_MTU,
        master: null,
        up: true,
      },
    ],
    addresses: [{ link: hostVeth, cidr: HOST_NDMZ_ADDRESS }],
    routes: [],
    ownsRoutes: false,
    sysctls: [IP_FORWARD],
    nftTables: [hostTable(prefix)],
  };
  const inside: NamespacePlan = {
    netns: ndmz,
    create: true,
    links: [
      loopback,
      {
        name: NDMZ_UPLINK,
        create: { kind: 'veth-pair', peerNetns: HOST_NETNS, peer: hostVeth },
        mtu: ETHERNET_MTU,
        master: null,
        up: true,
      },
      { name: NDMZ_BRIDGE, create: { kind: 'bridge' }, mtu: ETHERNET_MTU, master: null, up: true },
    ],
    addresses: [
      { link: NDMZ_UPLINK, cidr: NDMZ_UPLINK_ADDRESS },
      { link: NDMZ_BRIDGE, cidr: NDMZ_BRIDGE_ADDRESS },
    ],
    routes: [{ destination: DEFAULT_ROUTE, gateway: NDMZ_GATEWAY, link: NDMZ_UPLINK }],
    ownsRoutes: true,
    sysctls: [IP_FORWARD],
    nftTables: [ndmzTable(), ndmzBridgeTable()],
  };
  return { namespaces: [host, inside] };
}

export interface NrContext {
  /** networkd's --prefix. */
  readonly prefix: string;
  /** The NR's 100.127.X.Y (allocate-public.ts), stored by networkd. */
  readonly publicAddress: string;
  /** The NR's WireGuard private key (netdef's openResourceKey). Opaque; never serialised or logged. */
  readonly privateKey: PrivateKey;
  /** Each attached workload's id → its address: where the services named for it are routed. */
  readonly workloadAddresses?: ReadonlyMap<string, string>;
}

/** The canonical text of a CIDR field of the resource, or EINVAL naming it. */
function cidrField(value: string, field: string, prefixLength?: number): string {
  const cidr = parseCidr(value);
  if (!cidr || (prefixLength !== undefined && cidr.prefix !== prefixLength)) {
    throw invalidInput(
      field,
      `"${String(value).slice(0, 40)}" is not an IPv4 prefix${prefixLength === undefined ? '' : ` of length /${prefixLength}`}`,
    );
  }
  return formatCidr(cidr);
}

function addressField(value: string, field: string): string {
  const cidr = parseCidr(`${value}/32`);
  if (!cidr) throw invalidInput(field, `"${String(value).slice(0, 40)}" is not an IPv4 address`);
  return value;
}

/**
 * Where to dial a peer: its numeric endpoint in canonical form, or null (it dials in). Host names
 * are resolved once, by networkd (its DNS cache keeps the last good address), before planning:
 * one that reaches the plan is refused, so that there is one resolution path.
 */
function dialEndpoint(endpoint: string | null, field: string): string | null {
  if (endpoint === null) return null;
  const parsed = parseEndpoint(endpoint, true);
  if (!parsed.ok) throw invalidInput(field, parsed.reason);
  if (parsed.value.host.kind === 'hostname')
    throw invalidInput(field, 'must be a numeric ip:port (host names are resolved before planning)');
  return formatEndpoint(parsed.value);
}

export function planNr(resource: NodeResource, ctx: NrContext): DesiredNr {
  const prefix: Prefix = parsePrefix(ctx.prefix, 'ctx.prefix');
  const publicAddress = parsePublicAddress(ctx.publicAddress, 'ctx.publicAddress');
  const netId: NetId = parseNetId(resource.netId, 'resource.netId');
  const subnet = cidrField(resource.subnet, 'resource.subnet', 24);
  const gateway = addressField(resource.gateway, 'resource.gateway');
  const wgAddress = addressField(resource.wgAddress, 'resource.wgAddress');
  if (!Number.isInteger(resource.listenPort) || resource.listenPort < 1 || resource.listenPort > 65535) {
    throw invalidInput('resource.listenPort', 'must be a port 1-65535');
  }
  if (!Number.isInteger(resource.mtu) || resource.mtu < 1280 || resource.mtu > 9000) {
    throw invalidInput('resource.mtu', 'must be an integer 1280-9000');
  }
  if (!isKey(resource.wgPublicKey)) throw invalidInput('resource.wgPublicKey', 'is not a base64 WireGuard key');
  if (ctx.privateKey.publicKey() !== resource.wgPublicKey) {
    throw invalidInput(
      'ctx.privateKey',
      'does not belong to the resource (its public key differs from resource.wgPublicKey)',
    );
  }

  const nrNetns = namedNetns(nrNamespaceName(prefix, netId));
  const ndmz = namedNetns(ndmzNamespaceName(prefix));
  const wg = wgDeviceName(netId);
  const port = ndmzPortName(netId);

  const routes: RoutePlan[] = [];
  const seen = new Set<string>();
  resource.routes.forEach((route, i) => {
    const destination = cidrField(route.destination, `resource.routes[${i}].destination`);
    if (seen.has(destination)) return;
    seen.add(destination);
    routes.push({ destination, gateway: null, link: wg });
  });
  if (resource.egress === 'ndmz') {
    if (seen.has(DEFAULT_ROUTE))
      throw invalidInput('resource.routes', 'a default route into the mesh contradicts egress "ndmz"');
    routes.push({ destination: DEFAULT_ROUTE, gateway: PUBLIC_GATEWAY, link: NR_UPLINK });
  } else if (!seen.has(DEFAULT_ROUTE)) {
    routes.push({ destination: DEFAULT_ROUTE, gateway: null, link: wg });
  }
  const services = serviceRouting(resource, ctx.workloadAddresses ?? new Map());
  routes.push(...services.routes);

  const nr: NamespacePlan = {
    netns: nrNetns,
    create: true,
    links: [
      loopback,
      {
        name: NR_UPLINK,
        create: { kind: 'veth-pair', peerNetns: ndmz, peer: port },
        mtu: ETHERNET_MTU,
        master: null,
        up: true,
      },
      { name: NR_BRIDGE, create: { kind: 'bridge' }, mtu: resource.mtu, master: null, up: true },
      { name: wg, create: { kind: 'wireguard' }, mtu: resource.mtu, master: null, up: true },
    ],
    addresses: [
      { link: NR_UPLINK, cidr: `${publicAddress}/${PUBLIC_PREFIX_LENGTH}` },
      { link: NR_BRIDGE, cidr: `${gateway}/${subnet.split('/')[1]}` },
      ...services.held,
      { link: wg, cidr: `${wgAddress}/${resource.wgAddressPrefix}` },
    ],
    routes,
    ownsRoutes: true,
    sysctls: [IP_FORWARD, ...services.sysctls],
    // The NR's own addresses in the range: its gateway and the service addresses it holds.
    nftTables: [
      nrTable(
        wg,
        nrRestrictions(resource, wg, [gateway, ...services.held.map((a) => a.cidr.split('/')[0]!)], wgAddress),
      ),
    ],
    ...(resource.access ? { cutDeniedFlows: resource.access } : {}),
  };
  const ndmzSlice: NamespacePlan = {
    netns: ndmz,
    create: false,
    links: [
      {
        name: port,
        create: { kind: 'veth-peer', pairNetns: nrNetns, pair: NR_UPLINK },
        mtu: ETHERNET_MTU,
        master: NDMZ_BRIDGE,
        up: true,
      },
    ],
    addresses: [],
    routes: [],
    ownsRoutes: false,
    sysctls: [],
    nftTables: [],
  };

  const peers: WgPeerConfig[] = resource.peers.map((peer, i) => {
    if (!isKey(peer.publicKey)) throw invalidInput(`resource.peers[${i}].publicKey`, 'is not a base64 WireGuard key');
    return {
      publicKey: peer.publicKey,
      endpoint: dialEndpoint(peer.endpoint, `resource.peers[${i}].endpoint`),
      allowedIps: peer.allowedIps.map((ip, j) => cidrField(ip, `resource.peers[${i}].allowedIps[${j}]`)),
      persistentKeepalive: peer.persistentKeepalive ?? 0,
    };
  });

  return {
    netId,
    namespaces: [nr, ndmzSlice],
    wireguard: {
      name: wg,
      netns: nrNetns,
      mtu: resource.mtu,
      config: { privateKey: ctx.privateKey, publicKey: resource.wgPublicKey, listenPort: resource.listenPort, peers },
    },
  };
}

/** The NR table's restrictions after the diode: pending invitations first, then the access policy. */
function nrRestrictions(
  resource: NodeResource,
  wg: string,
  own: readonly string[],
  wgAddress: string,
): { forward: NftStatement[][]; input: NftStatement[][] } | null {
  const enrolment = resource.enrolment ? enrolmentRules(resource.enrolment, wg, wgAddress) : null;
  const access = resource.access ? accessRules(resource.access, wg, own) : null;
  if (!enrolment && !access) return null;
  return {
    forward: [...(enrolment?.forward ?? []), ...(access?.forward ?? [])].map((rule) => [...rule]),
    input: [...(enrolment?.input ?? []), ...(access?.input ?? [])].map((rule) => [...rule]),
  };
}
