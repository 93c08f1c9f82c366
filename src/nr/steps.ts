/**
 * The small operations apply carries out. Each is idempotent (running it twice, or after a crash
 * half-way, leaves the same state), so a diff computed against a stale observation is still safe
 * to run; and each names its namespace, so apply can group kernel work per namespace.
 */
import type { AccessPolicy } from '../netdef/index.js';
import type { NftTable } from './nft.js';
import type { NetnsRef, RoutePlan } from './model.js';
import { netnsKey } from './model.js';
import type { WgDesiredConfig } from './wireguard/backend.js';

export type Step =
  | { readonly kind: 'create-namespace'; readonly netns: NetnsRef }
  /** Deletes the namespace; its links (and the other ends of their veths) go with it. */
  | { readonly kind: 'delete-namespace'; readonly netns: NetnsRef }
  | {
      readonly kind: 'create-veth';
      readonly netns: NetnsRef;
      readonly name: string;
      readonly peerNetns: NetnsRef;
      readonly peer: string;
      readonly mtu: number;
    }
  | { readonly kind: 'create-bridge'; readonly netns: NetnsRef; readonly name: string; readonly mtu: number }
  /** A link that is in the way (wrong kind, or half of a broken veth pair). */
  | { readonly kind: 'delete-link'; readonly netns: NetnsRef; readonly name: string }
  | { readonly kind: 'ensure-wg-device'; readonly netns: NetnsRef; readonly name: string; readonly mtu: number }
  /** Only the fields given change; `master` null detaches. */
  | {
      readonly kind: 'set-link';
      readonly netns: NetnsRef;
      readonly name: string;
      readonly mtu?: number;
      readonly master?: string | null;
      readonly up?: boolean;
    }
  | { readonly kind: 'add-address'; readonly netns: NetnsRef; readonly link: string; readonly cidr: string }
  | { readonly kind: 'remove-address'; readonly netns: NetnsRef; readonly link: string; readonly cidr: string }
  /** Creates or replaces the main-table route to `route.destination`. */
  | { readonly kind: 'replace-route'; readonly netns: NetnsRef; readonly route: RoutePlan }
  | { readonly kind: 'remove-route'; readonly netns: NetnsRef; readonly route: RoutePlan }
  | { readonly kind: 'set-sysctl'; readonly netns: NetnsRef; readonly key: string; readonly value: string }
  | { readonly kind: 'replace-nft-table'; readonly netns: NetnsRef; readonly table: NftTable }
  /** After the table replacement before it (same namespace, so the same ordered chain in apply). */
  | { readonly kind: 'cut-denied-flows'; readonly netns: NetnsRef; readonly policy: AccessPolicy }
  | {
      readonly kind: 'delete-nft-table';
      readonly netns: NetnsRef;
      readonly family: NftTable['family'];
      readonly name: string;
    }
  | { readonly kind: 'configure-wg'; readonly name: string; readonly config: WgDesiredConfig }
  | { readonly kind: 'remove-wg-device'; readonly name: string }
  /** Devices whose namespaces were deleted, as one burst (their namespaces then die together). */
  | { readonly kind: 'remove-wg-devices'; readonly names: readonly string[] };

export type StepKind = Step['kind'];

/** One line for reports and errors (no key material: a WireGuard config is summarised). */
export function describeStep(step: Step): string {
  const where = 'netns' in step ? `[${netnsKey(step.netns)}] ` : '';
  switch (step.kind) {
    case 'create-namespace':
    case 'delete-namespace':
      return `${step.kind} ${netnsKey(step.netns)}`;
    case 'create-veth':
      return `${where}create-veth ${step.name} <-> ${netnsKey(step.peerNetns)}/${step.peer} mtu ${step.mtu}`;
    case 'create-bridge':
      return `${where}create-bridge ${step.name} mtu ${step.mtu}`;
    case 'delete-link':
      return `${where}delete-link ${step.name}`;
    case 'ensure-wg-device':
      return `${where}ensure-wg-device ${step.name} mtu ${step.mtu}`;
    case 'set-link': {
      const parts: string[] = [];
      if (step.mtu !== undefined) parts.push(`mtu ${step.mtu}`);
      if (step.master !== undefined) parts.push(step.master === null ? 'nomaster' : `master ${step.master}`);
      if (step.up !== undefined) parts.push(step.up ? 'up' : 'down');
      return `${where}set-link ${step.name} ${parts.join(' ')}`;
    }
    case 'add-address':
    case 'remove-address':
      return `${where}${step.kind} ${step.cidr} dev ${step.link}`;
    case 'replace-route':
    case 'remove-route':
      return `${where}${step.kind} ${step.route.destination}${step.route.gateway ? ` via ${step.route.gateway}` : ''} dev ${step.route.link}`;
    case 'set-sysctl':
      return `${where}set-sysctl ${step.key}=${step.value}`;
    case 'replace-nft-table':
      return `${where}replace-nft-table ${step.table.family} ${step.table.name}`;
    case 'cut-denied-flows':
      return `${where}cut-denied-flows (${step.policy.rules.length} allow rules)`;
    case 'delete-nft-table':
      return `${where}delete-nft-table ${step.family} ${step.name}`;
    case 'configure-wg':
      return `configure-wg ${step.name} port ${step.config.listenPort} peers ${step.config.peers.length}`;
    case 'remove-wg-device':
      return `remove-wg-device ${step.name}`;
    case 'remove-wg-devices':
      return `remove-wg-devices ${step.names.length === 1 ? step.names[0] : `(${step.names.length})`}`;
  }
}
