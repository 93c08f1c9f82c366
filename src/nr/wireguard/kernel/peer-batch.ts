/**
 * Packs a SET_DEVICE's peers into the addon's RawPeerBatch: per-peer columns (flags, keepalive,
 * counts, lengths) and the text of all keys, endpoints and allowed IPs concatenated. Reading an
 * object per peer through N-API cost ~20 N-API calls a peer — a third of a second for 10,000
 * peers in the guest, as much as wg(8) spends on everything but the kernel — where this is one
 * pass of plain JavaScript and a dozen N-API calls for the whole set.
 *
 * Checked here: the shapes (strings, arrays, booleans) and the ranges of numbers, naming the
 * field. The text itself (base64, addresses, prefixes) is parsed and checked by the addon before
 * anything is sent (native/wgk_text.c), which names the field the same way.
 */
import { PresharedKey } from '../../../netdef/index.js';
import { invalidInput } from './errors.js';
import type { KernelPeerSet } from './types.js';
import { RAW_PEER, type RawPeerBatch } from './native.js';

/** Standard base64 of 32 bytes. */
const KEY_TEXT_LENGTH = 44;
const MALFORMED_KEY = 'malformed key: expected standard base64 of 32 bytes';

/**
 * `secrets` receives the preshared key bytes, for the caller to zero once the request has been
 * sent. Throws a KernelWgError (EINVAL) naming the first field of a wrong shape.
 */
export function packPeers(
  peers: readonly KernelPeerSet[],
  operation: string,
  device: string,
  secrets: Uint8Array[],
): RawPeerBatch {
  const count = peers.length;
  const refuse = (i: number, field: string, reason: string): never => {
    throw invalidInput(operation, `peers[${i}]${field}`, reason, device);
  };
  // A first pass sizes the allowed-IP column, so that it is filled in place.
  let totalAllowedIps = 0;
  for (let i = 0; i < count; i++) {
    const peer = peers[i];
    if (typeof peer !== 'object' || peer === null) refuse(i, '', 'must be an object');
    const ips = peer!.allowedIps;
    if (ips !== undefined) {
      if (!Array.isArray(ips)) refuse(i, '.allowedIps', 'must be an array');
      totalAllowedIps += ips!.length;
    }
  }
  const keys = new Array<string>(count);
  const flags = new Uint8Array(count);
  const keepalives = new Uint16Array(count);
  const endpointLengths = new Uint32Array(count);
  const allowedIpCounts = new Uint32Array(count);
  const allowedIpLengths = new Uint32Array(totalAllowedIps);
  const endpoints: string[] = [];
  const allowedIps = new Array<string>(totalAllowedIps);
  let presharedKeys: Uint8Array[] | null = null;
  let ip = 0;
  for (let i = 0; i < count; i++) {
    const peer = peers[i]!;
    const key = peer.publicKey;
    // Never echo the value: a private key pasted into the wrong field must not reach a log.
    if (typeof key !== 'string' || key.length !== KEY_TEXT_LENGTH) refuse(i, '.publicKey', MALFORMED_KEY);
    keys[i] = key;
    let f = 0;
    if (peer.remove) f |= RAW_PEER.REMOVE;
    if (peer.updateOnly) f |= RAW_PEER.UPDATE_ONLY;
    if (peer.replaceAllowedIps) f |= RAW_PEER.REPLACE_ALLOWED_IPS;
    const psk = peer.presharedKey;
    if (psk === null) f |= RAW_PEER.PRESHARED_KEY_NONE;
    else if (psk !== undefined) {
      if (!(psk instanceof PresharedKey)) refuse(i, '.presharedKey', 'must be a PresharedKey');
      const bytes = psk.bytes();
      secrets.push(bytes);
      (presharedKeys ??= []).push(bytes);
      f |= RAW_PEER.PRESHARED_KEY;
    }
    const endpoint = peer.endpoint;
    if (endpoint !== undefined && endpoint !== null) {
      if (typeof endpoint !== 'string') refuse(i, '.endpoint', "must be a string 'IPv4:port' or '[IPv6]:port'");
      endpoints.push(endpoint);
      endpointLengths[i] = endpoint.length;
      f |= RAW_PEER.ENDPOINT;
    }
    const keepalive = peer.persistentKeepalive;
    if (keepalive !== undefined) {
      if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) {
        refuse(i, '.persistentKeepalive', `must be an integer 0..65535, got ${String(keepalive)}`);
      }
      keepalives[i] = keepalive;
      f |= RAW_PEER.KEEPALIVE;
    }
    flags[i] = f;
    const ips = peer.allowedIps;
    if (ips !== undefined) {
      const n = ips.length;
      allowedIpCounts[i] = n;
      for (let j = 0; j < n; j++) {
        const text = ips[j];
        if (typeof text !== 'string') refuse(i, `.allowedIps[${j}]`, "must be a string 'address/prefix'");
        allowedIps[ip] = text!;
        allowedIpLengths[ip++] = text!.length;
      }
    }
  }
  let psks: Uint8Array | null = null;
  if (presharedKeys) {
    psks = new Uint8Array(presharedKeys.length * 32);
    presharedKeys.forEach((bytes, k) => psks!.set(bytes, k * 32));
    secrets.push(psks);
  }
  return {
    count,
    publicKeys: keys.join(''),
    flags,
    keepalives,
    endpointLengths,
    endpoints: endpoints.join(''),
    allowedIpCounts,
    allowedIpLengths,
    allowedIps: allowedIps.join(''),
    presharedKeys: psks,
  };
}
