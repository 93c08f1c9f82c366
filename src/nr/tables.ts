/**
 * The nftables tables of a node (docs/network-resources.md "nftables"): the host's table, the
 * ndmz's inet and bridge tables and the NR's table, built from nft.ts's statements.
 *
 * The MSS clamp is the first rule of each forward chain (before `ct state established,related
 * accept`), so that the SYN-ACK of a connection is clamped as well as its SYN: an accept ends the
 * chain, and a clamp placed after it would only ever see the first packet of each connection.
 */
import { CARRIAGE_PORT } from '../netdef/index.js';
import {
  accept,
  clampMssToPmtu,
  ctState,
  dportIn,
  drop,
  iifname,
  ipDaddrIn,
  ipSaddr,
  masquerade,
  oifname,
  tcpFlagsSyn,
} from './kernel/nft-rules.js';
import { type NftChain, type NftStatement, type NftTable, PRIORITY } from './nft.js';
import { NDMZ_BRIDGE, NDMZ_UPLINK, NR_UPLINK, type Prefix, TABLE_NAME, hostTableName, hostVethName } from './names.js';

const ctEstablishedOrRelated = ctState(['established', 'related']);
const clampMssToRouteMtu: readonly NftStatement[] = [tcpFlagsSyn(), clampMssToPmtu()];

/** The host end of the ndmz veth and the ndmz's /30. */
export const HOST_NDMZ_NETWORK = '100.126.0.0/30';

/** Where an NR may not send through ndmz: private, link-local, CGNAT, loopback, multicast. */
export const NR_FORBIDDEN_DESTINATIONS: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '224.0.0.0/4',
];

/** An inet base chain, policy accept (zmesh drops by rule): filter on forward/input, srcnat on postrouting. */
function chain(name: 'forward' | 'input' | 'postrouting', rules: NftChain['rules']): NftChain {
  return name === 'postrouting'
    ? { name, type: 'nat', hook: name, prio: PRIORITY.srcnat, policy: 'accept', rules }
    : { name, type: 'filter', hook: name, prio: PRIORITY.filter, policy: 'accept', rules };
}

/** Host: forward what comes from ndmz, only replies towards it, nothing from it to the node itself. */
export function hostTable(prefix: Prefix): NftTable {
  const veth = hostVethName(prefix);
  return {
    family: 'inet',
    name: hostTableName(prefix),
    chains: [
      chain('forward', [
        [iifname(veth), accept()],
        [oifname(veth), ctEstablishedOrRelated, accept()],
        [oifname(veth), drop()],
      ]),
      chain('input', [
        [iifname(veth), ctEstablishedOrRelated, accept()],
        [iifname(veth), drop()],
      ]),
      chain('postrouting', [[ipSaddr(HOST_NDMZ_NETWORK), oifname(veth, '!='), masquerade()]]),
    ],
  };
}

/**
 * The Internet diode on `uplink` (ndmz's npub, an NR's public): replies pass, anything new from
 * the uplink is dropped, forwarded TCP is MSS-clamped, and what leaves by the uplink is
 * masqueraded. `forwardRestrictions` are further drops after the diode's.
 */
function diodeTable(
  uplink: string,
  forwardRestrictions: NftChain['rules'],
  inputRestrictions: NftChain['rules'] = [],
  inputFirst: NftChain['rules'] = [],
): NftTable {
  return {
    family: 'inet',
    name: TABLE_NAME,
    chains: [
      chain('forward', [
        [...clampMssToRouteMtu],
        [ctEstablishedOrRelated, accept()],
        [iifname(uplink), drop()],
        ...forwardRestrictions,
      ]),
      chain('input', [
        ...inputFirst,
        [ctEstablishedOrRelated, accept()],
        [iifname(uplink), drop()],
        ...inputRestrictions,
      ]),
      chain('postrouting', [[oifname(uplink), masquerade()]]),
    ],
  };
}

/** ndmz: the Internet diode on npub, NRs kept from private ranges, masquerade out npub. */
export function ndmzTable(): NftTable {
  return diodeTable(NDMZ_UPLINK, [[iifname(NDMZ_BRIDGE), ipDaddrIn(NR_FORBIDDEN_DESTINATIONS), drop()]]);
}

/** ndmz, bridge family: frames between two ports of br-nr (NR to NR) never pass. */
export function ndmzBridgeTable(): NftTable {
  return {
    family: 'bridge',
    name: TABLE_NAME,
    chains: [
      {
        name: 'forward',
        type: 'filter',
        hook: 'forward',
        prio: PRIORITY.bridgeFilter,
        policy: 'accept',
        rules: [[drop()]],
      },
    ],
  };
}

/**
 * NR: the diode on `public`, masquerade out `public`; mesh-to-mesh forwarding stays allowed
 * unless access rules (access-rules.ts) restrict what crosses the mesh and what reaches the NR from it.
 *
 * First of all, failover's channel (CARRIAGE_PORT) is taken from the WireGuard device `wgDevice`
 * only: an announcement is trusted by its source address, which WireGuard ties to a peer's key on
 * the tunnel but a workload on the bridge could write freely. Before the conntrack accept, since
 * the NR's own hello to an aggregator opens a flow whose forged "reply" conntrack would accept.
 */
export function nrTable(
  wgDevice: string,
  access: { forward: NftChain['rules']; input: NftChain['rules'] } | null = null,
): NftTable {
  const carriage = [iifname(wgDevice, '!='), dportIn('udp', [{ first: CARRIAGE_PORT, last: CARRIAGE_PORT }]), drop()];
  return diodeTable(NR_UPLINK, access?.forward ?? [], access?.input ?? [], [carriage]);
}
