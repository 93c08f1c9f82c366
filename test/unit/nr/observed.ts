/**
 * Plain-object observations for diff tests: what the kernel and the WireGuard backend would report
 * right after a plan was applied exactly, to be mutated into every kind of difference.
 */
import type { DesiredNr, NamespacePlan, ObservedNamespace, ObservedNr } from '../../../src/nr/model.js';
import type { WgDesiredConfig, WgDeviceStatus } from '../../../src/nr/wireguard/backend.js';

const KIND = { 'veth-pair': 'veth', 'veth-peer': 'veth', bridge: 'bridge', wireguard: 'tun', loopback: '' } as const;

export function observedFrom(plan: NamespacePlan): ObservedNamespace {
  return {
    netns: plan.netns,
    exists: true,
    links: plan.links.map((l) => ({
      name: l.name,
      kind: KIND[l.create.kind],
      mtu: l.mtu ?? 65536,
      master: l.master,
      up: l.up,
    })),
    addresses: [...plan.addresses],
    routes: [...plan.routes],
    sysctls: Object.fromEntries(plan.sysctls.map((s) => [s.key, s.value])),
    nftTables: structuredClone(plan.nftTables),
  };
}

export function statusFrom(name: string, config: WgDesiredConfig): WgDeviceStatus {
  return {
    name,
    publicKey: config.publicKey,
    listenPort: config.listenPort,
    peers: config.peers.map((p) => ({
      ...p,
      allowedIps: [...p.allowedIps],
      lastHandshake: null,
      rxBytes: 0,
      txBytes: 0,
    })),
  };
}

export function observedNrFrom(desired: DesiredNr): ObservedNr {
  return {
    netId: desired.netId,
    namespaces: desired.namespaces.map(observedFrom),
    wireguard: statusFrom(desired.wireguard.name, desired.wireguard.config),
  };
}

export function missing(plan: NamespacePlan): ObservedNamespace {
  return { netns: plan.netns, exists: false, links: [], addresses: [], routes: [], sysctls: {}, nftTables: [] };
}
