/**
 * Pure: the smallest UAPI set request that turns a device's current configuration (a `get`)
 * into the desired one. The private key and listen port are sent only when they differ (a
 * listen_port line rebinds the sockets; a private_key line drops every session), a peer's
 * allowed IPs are replaced only when its set changed, a planned endpoint is sent only when the
 * device's differs, and peers no longer wanted are removed. null when nothing differs.
 */
import { PublicKey } from '../../../netdef/index.js';
import {
  AllowedIp,
  UapiEndpoint,
  type PeerOperation,
  type PeerSection,
  type SetRequest,
  type DeviceOperation,
} from '../../../wg/config.js';
import type { DeviceView } from '../../../wg/uapi/view.js';
import type { WgDesiredConfig } from '../backend.js';

export function minimalSetRequest(current: DeviceView, desired: WgDesiredConfig): SetRequest | null {
  const device: DeviceOperation[] = [];
  const { privateKey } = desired;
  if (current.privateKey === null || !current.privateKey.equals(privateKey))
    device.push({ kind: 'private_key', privateKey });
  if (current.listenPort !== desired.listenPort) device.push({ kind: 'listen_port', port: desired.listenPort });

  const currentPeers = new Map(current.peers.map((p) => [p.publicKey.hex, p]));
  const peers: PeerSection[] = [];
  const wanted = new Set<string>();
  for (const want of desired.peers) {
    const publicKey = PublicKey.fromBase64(want.publicKey);
    wanted.add(publicKey.hex);
    const have = currentPeers.get(publicKey.hex);
    const operations: PeerOperation[] = [];
    if (want.endpoint !== null) {
      const endpoint = UapiEndpoint.parse(want.endpoint);
      if (!have || have.endpoint?.text !== endpoint.text) operations.push({ kind: 'endpoint', endpoint });
    }
    if ((have?.persistentKeepalive ?? 0) !== want.persistentKeepalive) {
      operations.push({ kind: 'persistent_keepalive_interval', seconds: want.persistentKeepalive });
    }
    const allowed = want.allowedIps.map((text) => AllowedIp.parse(text));
    const haveAllowed = new Set(have?.allowedIps.map((ip) => ip.text) ?? []);
    const same =
      have !== undefined && haveAllowed.size === allowed.length && allowed.every((ip) => haveAllowed.has(ip.text));
    if (!same) {
      operations.push({ kind: 'replace_allowed_ips' });
      for (const allowedIp of allowed) operations.push({ kind: 'allowed_ip', allowedIp });
    }
    if (!have || operations.length > 0) peers.push({ publicKey, operations });
  }
  for (const have of current.peers) {
    if (!wanted.has(have.publicKey.hex)) peers.push({ publicKey: have.publicKey, operations: [{ kind: 'remove' }] });
  }
  if (device.length === 0 && peers.length === 0) return null;
  return { device, peers };
}
