/**
 * The WireGuard device configuration model: what a device is configured to be (as opposed to its
 * live state — handshakes, counters, roamed endpoints — which the device owns), and `applySet`,
 * the pure function that turns one parsed `set=1` request into the next configuration plus the
 * list of changes the device must carry out.
 *
 * No I/O. A request is applied to a copy and either yields a whole new configuration or throws a
 * UapiError, so a bad request changes nothing (wireguard-go applies line by line and leaves a
 * half-applied device behind). The semantics are wg(8)'s, as the kernel and wireguard-go
 * implement them; where those two differ the rule taken is noted at the spot.
 */
import { UapiError } from './uapi/errors.js';
import type { AllowedIp, UapiEndpoint } from './uapi/ip.js';
import { PublicKey, type PresharedKey, type PrivateKey } from '../netdef/keys.js';

export { AllowedIp, UapiEndpoint } from './uapi/ip.js';

/** Peers are keyed by the lowercase hex of their public key (PublicKey.hex). */
export type PublicKeyHex = string;

export interface PeerConfig {
  readonly publicKey: PublicKey;
  readonly presharedKey: PresharedKey | null;
  /** The configured endpoint; the live one (after roaming) belongs to the device's view. */
  readonly endpoint: UapiEndpoint | null;
  /** Seconds, 0 = off. */
  readonly persistentKeepalive: number;
  /** In the order they were added; no two peers of a device share one prefix. */
  readonly allowedIps: readonly AllowedIp[];
  readonly protocolVersion: 1;
}

export interface DeviceConfig {
  readonly privateKey: PrivateKey | null;
  /** 0 = not set: the device binds a random port. */
  readonly listenPort: number;
  /** 0 = not set. */
  readonly fwmark: number;
  /** In the order they were added (the order `get` lists them, as the kernel does). */
  readonly peers: ReadonlyMap<PublicKeyHex, PeerConfig>;
}

export const EMPTY_DEVICE_CONFIG: DeviceConfig = Object.freeze({
  privateKey: null,
  listenPort: 0,
  fwmark: 0,
  peers: new Map<PublicKeyHex, PeerConfig>(),
});

// ---------------------------------------------------------------------------------------------
// The parsed form of a set=1 request.

export type DeviceOperation =
  | { readonly kind: 'private_key'; readonly privateKey: PrivateKey | null }
  | { readonly kind: 'listen_port'; readonly port: number }
  | { readonly kind: 'fwmark'; readonly fwmark: number }
  | { readonly kind: 'replace_peers' };

export type PeerOperation =
  | { readonly kind: 'remove' }
  | { readonly kind: 'update_only' }
  | { readonly kind: 'preshared_key'; readonly presharedKey: PresharedKey | null }
  | { readonly kind: 'endpoint'; readonly endpoint: UapiEndpoint }
  | { readonly kind: 'persistent_keepalive_interval'; readonly seconds: number }
  | { readonly kind: 'replace_allowed_ips' }
  | { readonly kind: 'allowed_ip'; readonly allowedIp: AllowedIp }
  | { readonly kind: 'protocol_version'; readonly version: 1 };

/** One `public_key=` line and the peer lines after it, in request order. */
export interface PeerSection {
  readonly publicKey: PublicKey;
  readonly operations: readonly PeerOperation[];
}

/** Device lines come first (the protocol forbids them after the first public_key). */
export interface SetRequest {
  readonly device: readonly DeviceOperation[];
  readonly peers: readonly PeerSection[];
}

// ---------------------------------------------------------------------------------------------
// What changed, so the device can apply just that.

export type PeerField = 'presharedKey' | 'endpoint' | 'persistentKeepalive' | 'allowedIps';

export type ConfigChange =
  | { readonly kind: 'private-key-changed' }
  | { readonly kind: 'listen-port-changed'; readonly listenPort: number }
  | { readonly kind: 'fwmark-changed'; readonly fwmark: number }
  /** The peer is gone, sessions and all (also emitted before peer-added when replace_peers re-adds it). */
  | { readonly kind: 'peer-removed'; readonly publicKey: PublicKey }
  | { readonly kind: 'peer-added'; readonly publicKey: PublicKey }
  /** A peer that stayed: which of its configured fields differ (endpoint: whenever one was set, since
   *  setting an endpoint overrides a roamed one even when the configured value is the same). */
  | { readonly kind: 'peer-updated'; readonly publicKey: PublicKey; readonly fields: readonly PeerField[] }
  /** Persistent keepalive went from off to on: the device sends one keepalive at once. */
  | { readonly kind: 'keepalive-enabled'; readonly publicKey: PublicKey };

export interface SetResult {
  readonly config: DeviceConfig;
  readonly changes: readonly ConfigChange[];
}

/** X25519 base-point multiplication (supplied by the caller, so this module stays pure). */
export type DerivePublicKey = (privateKey: Uint8Array) => Uint8Array;

interface MutablePeer {
  publicKey: PublicKey;
  presharedKey: PresharedKey | null;
  endpoint: UapiEndpoint | null;
  persistentKeepalive: number;
  allowedIps: AllowedIp[];
}

/**
 * Applies a parsed set request to a configuration. Pure: returns a new configuration and the
 * changes, or throws a UapiError and the input configuration stays the one in force.
 */
export function applySet(config: DeviceConfig, request: SetRequest, derivePublicKey: DerivePublicKey): SetResult {
  let privateKey = config.privateKey;
  let listenPort = config.listenPort;
  let fwmark = config.fwmark;
  // Copy-on-write: the map is copied (cheap), a peer only when this request touches it, so a
  // one-peer `wg set` on a device with 10,000 peers costs little more than the map copy.
  const peers = new Map<PublicKeyHex, PeerConfig | MutablePeer>(config.peers);
  const touched = new Set<PublicKeyHex>();
  const mutable = (hex: PublicKeyHex): MutablePeer => {
    const p = peers.get(hex)!;
    if (touched.has(hex)) return p as MutablePeer;
    const copy: MutablePeer = { ...p, allowedIps: [...p.allowedIps] };
    peers.set(hex, copy);
    touched.add(hex);
    return copy;
  };
  // Who owns which prefix, to move a prefix between peers; built on the first allowed_ip line.
  let ownerIndex = null as Map<string, PublicKeyHex> | null; // "as": assigned inside owner()
  const owner = (): Map<string, PublicKeyHex> => {
    if (!ownerIndex) {
      ownerIndex = new Map();
      for (const [hex, p] of peers) for (const ip of p.allowedIps) ownerIndex.set(ip.text, hex);
    }
    return ownerIndex;
  };

  const removedAtSomePoint = new Set<PublicKeyHex>();
  const endpointSet = new Set<PublicKeyHex>();
  const keepaliveTurnedOn = new Set<PublicKeyHex>();

  const removePeer = (hex: PublicKeyHex): void => {
    const peer = peers.get(hex);
    if (!peer) return;
    if (ownerIndex) for (const ip of peer.allowedIps) ownerIndex.delete(ip.text);
    peers.delete(hex);
    removedAtSomePoint.add(hex);
    keepaliveTurnedOn.delete(hex);
    endpointSet.delete(hex);
  };

  const publicKeyOf = (key: PrivateKey | null): PublicKey | null => {
    if (!key) return null;
    try {
      return PublicKey.fromBytes(derivePublicKey(key.bytes()));
    } catch (cause) {
      // Never include the key; the derivation function's own error is kept as cause for debugging
      // and is expected not to carry it either.
      throw new UapiError(
        'EIO',
        'could not derive the public key of the private key',
        { key: 'private_key' },
        { cause },
      );
    }
  };

  for (const op of request.device) {
    switch (op.kind) {
      case 'private_key': {
        const unchanged = op.privateKey === null ? privateKey === null : privateKey?.equals(op.privateKey);
        if (unchanged) break; // wireguard-go: setting the same key is a no-op
        privateKey = op.privateKey;
        // Both the kernel and wireguard-go drop a peer whose key equals the new own public key.
        const own = publicKeyOf(privateKey);
        if (own && peers.has(own.hex)) removePeer(own.hex);
        break;
      }
      case 'listen_port':
        listenPort = op.port;
        break;
      case 'fwmark':
        fwmark = op.fwmark;
        break;
      case 'replace_peers':
        for (const hex of [...peers.keys()]) removePeer(hex);
        break;
    }
  }

  const ownPublicKey = publicKeyOf(privateKey);

  for (const section of request.peers) {
    const hex = section.publicKey.hex;
    // A peer with the device's own key is ignored, all its lines with it (kernel, wireguard-go).
    if (ownPublicKey && ownPublicKey.hex === hex) continue;
    // update_only anywhere in the section: an unknown peer's lines are skipped entirely. (wireguard-go
    // creates the peer and removes it when it reaches update_only, after allowed_ip lines before it
    // have already taken prefixes from other peers; skipping the section avoids that.)
    let active: MutablePeer | null;
    if (peers.has(hex)) {
      active = mutable(hex);
    } else if (section.operations.some((o) => o.kind === 'update_only')) {
      continue;
    } else {
      active = {
        publicKey: section.publicKey,
        presharedKey: null,
        endpoint: null,
        persistentKeepalive: 0,
        allowedIps: [],
      };
      peers.set(hex, active);
      touched.add(hex);
    }
    for (const op of section.operations) {
      if (!active) break; // after remove=true the rest of the section is ignored (wireguard-go)
      switch (op.kind) {
        case 'remove':
          removePeer(hex);
          active = null;
          break;
        case 'update_only':
        case 'protocol_version':
          break;
        case 'preshared_key':
          active.presharedKey = op.presharedKey;
          break;
        case 'endpoint':
          active.endpoint = op.endpoint;
          endpointSet.add(hex);
          break;
        case 'persistent_keepalive_interval':
          // wireguard-go: keepalive is sent at once when this line turns it on from off.
          if (active.persistentKeepalive === 0 && op.seconds !== 0) keepaliveTurnedOn.add(hex);
          else if (op.seconds === 0) keepaliveTurnedOn.delete(hex);
          active.persistentKeepalive = op.seconds;
          break;
        case 'replace_allowed_ips':
          if (ownerIndex) for (const ip of active.allowedIps) ownerIndex.delete(ip.text);
          active.allowedIps = [];
          break;
        case 'allowed_ip': {
          const text = op.allowedIp.text;
          const index = owner();
          const previous = index.get(text);
          if (previous === hex) break;
          if (previous !== undefined) {
            // The exact prefix moves to this peer, as in the kernel's and wireguard-go's trie.
            const from = mutable(previous);
            from.allowedIps = from.allowedIps.filter((ip) => ip.text !== text);
          }
          index.set(text, hex);
          active.allowedIps.push(op.allowedIp);
          break;
        }
      }
    }
  }

  const next: DeviceConfig = Object.freeze({
    privateKey,
    listenPort,
    fwmark,
    peers: new Map(
      [...peers].map(([hex, p]) => [hex, touched.has(hex) ? freezePeer(p as MutablePeer) : (p as PeerConfig)] as const),
    ),
  });
  return { config: next, changes: diff(config, next, { touched, removedAtSomePoint, endpointSet, keepaliveTurnedOn }) };
}

function freezePeer(p: MutablePeer): PeerConfig {
  return Object.freeze({
    publicKey: p.publicKey,
    presharedKey: p.presharedKey,
    endpoint: p.endpoint,
    persistentKeepalive: p.persistentKeepalive,
    allowedIps: Object.freeze([...p.allowedIps]),
    protocolVersion: 1 as const,
  });
}

function diff(
  before: DeviceConfig,
  after: DeviceConfig,
  seen: {
    touched: Set<PublicKeyHex>;
    removedAtSomePoint: Set<PublicKeyHex>;
    endpointSet: Set<PublicKeyHex>;
    keepaliveTurnedOn: Set<PublicKeyHex>;
  },
): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const sameKey = (a: PrivateKey | null, b: PrivateKey | null): boolean =>
    a === null ? b === null : b !== null && a.equals(b);
  if (!sameKey(before.privateKey, after.privateKey)) changes.push({ kind: 'private-key-changed' });
  if (before.listenPort !== after.listenPort)
    changes.push({ kind: 'listen-port-changed', listenPort: after.listenPort });
  if (before.fwmark !== after.fwmark) changes.push({ kind: 'fwmark-changed', fwmark: after.fwmark });

  // Only peers this request touched or removed can differ; the rest are the same objects.
  for (const hex of seen.removedAtSomePoint) {
    const old = before.peers.get(hex);
    if (old) changes.push({ kind: 'peer-removed', publicKey: old.publicKey });
  }
  for (const hex of seen.touched) {
    const peer = after.peers.get(hex);
    if (!peer) continue;
    const old = before.peers.get(hex);
    if (!old || seen.removedAtSomePoint.has(hex)) {
      changes.push({ kind: 'peer-added', publicKey: peer.publicKey });
    } else {
      const fields: PeerField[] = [];
      const samePsk =
        old.presharedKey === null
          ? peer.presharedKey === null
          : peer.presharedKey !== null && old.presharedKey.equals(peer.presharedKey);
      if (!samePsk) fields.push('presharedKey');
      if (seen.endpointSet.has(hex)) fields.push('endpoint');
      if (old.persistentKeepalive !== peer.persistentKeepalive) fields.push('persistentKeepalive');
      const oldIps = new Set(old.allowedIps.map((ip) => ip.text));
      if (oldIps.size !== peer.allowedIps.length || peer.allowedIps.some((ip) => !oldIps.has(ip.text)))
        fields.push('allowedIps');
      if (fields.length > 0) changes.push({ kind: 'peer-updated', publicKey: peer.publicKey, fields });
    }
    if (seen.keepaliveTurnedOn.has(hex) && peer.persistentKeepalive !== 0)
      changes.push({ kind: 'keepalive-enabled', publicKey: peer.publicKey });
  }
  return changes;
}
