/**
 * Formatting of the cross-platform userspace API's text: the `get` answer in wireguard-go's exact
 * order and spelling, the `errno=` trailer, and set requests (for the client) in the order wg(8)
 * sends them. The only place that writes a private or preshared key's hex.
 */
import type { DeviceOperation, PeerOperation, SetRequest } from '../config.js';
import { ZERO_KEY_HEX } from '../../netdef/keys.js';
import type { DeviceView } from './view.js';

/** The lines of a `get` answer, each ending in '\n', followed by `errno=0` and the blank line. */
export function formatGetResponse(view: DeviceView): string {
  return [...formatGetResponseChunks(view, Number.MAX_SAFE_INTEGER)].join('');
}

/**
 * The same answer in pieces of `peersPerChunk` peers, so a server can send a device of 100,000
 * peers (30 MB) with backpressure instead of building and queueing it whole.
 */
export function* formatGetResponseChunks(view: DeviceView, peersPerChunk = 256): Generator<string> {
  let out: string[] = [];
  if (view.privateKey) out.push(`private_key=${view.privateKey.secretHex()}`);
  if (view.listenPort !== 0) out.push(`listen_port=${view.listenPort}`);
  if (view.fwmark !== 0) out.push(`fwmark=${view.fwmark}`);
  let inChunk = 0;
  for (const peer of view.peers) {
    if (inChunk++ === peersPerChunk) {
      yield `${out.join('\n')}\n`;
      out = [];
      inChunk = 1;
    }
    out.push(`public_key=${peer.publicKey.hex}`);
    out.push(`preshared_key=${peer.presharedKey ? peer.presharedKey.secretHex() : ZERO_KEY_HEX}`);
    out.push('protocol_version=1');
    if (peer.endpoint) out.push(`endpoint=${peer.endpoint.text}`);
    out.push(`last_handshake_time_sec=${peer.lastHandshake.sec}`);
    out.push(`last_handshake_time_nsec=${peer.lastHandshake.nsec}`);
    out.push(`tx_bytes=${peer.txBytes}`);
    out.push(`rx_bytes=${peer.rxBytes}`);
    out.push(`persistent_keepalive_interval=${peer.persistentKeepalive}`);
    for (const ip of peer.allowedIps) out.push(`allowed_ip=${ip.text}`);
  }
  out.push('errno=0', '', '');
  yield out.join('\n');
}

/** `errno=N` and the blank line; N is 0 or a negative errno. */
export function formatErrno(errno: number): string {
  return `errno=${errno}\n\n`;
}

function deviceLine(op: DeviceOperation): string {
  switch (op.kind) {
    case 'private_key':
      return `private_key=${op.privateKey ? op.privateKey.secretHex() : ZERO_KEY_HEX}`;
    case 'listen_port':
      return `listen_port=${op.port}`;
    case 'fwmark':
      return `fwmark=${op.fwmark}`;
    case 'replace_peers':
      return 'replace_peers=true';
  }
}

function peerLine(op: PeerOperation): string {
  switch (op.kind) {
    case 'remove':
    case 'update_only':
    case 'replace_allowed_ips':
      return `${op.kind}=true`;
    case 'preshared_key':
      return `preshared_key=${op.presharedKey ? op.presharedKey.secretHex() : ZERO_KEY_HEX}`;
    case 'endpoint':
      return `endpoint=${op.endpoint.text}`;
    case 'persistent_keepalive_interval':
      return `persistent_keepalive_interval=${op.seconds}`;
    case 'allowed_ip':
      return `allowed_ip=${op.allowedIp.text}`;
    case 'protocol_version':
      return 'protocol_version=1';
  }
}

/** The key=value lines of a set request, in request order, without `set=1` and the blank line. */
export function formatSetLines(request: SetRequest): string[] {
  const lines = request.device.map(deviceLine);
  for (const section of request.peers) {
    lines.push(`public_key=${section.publicKey.hex}`);
    for (const op of section.operations) lines.push(peerLine(op));
  }
  return lines;
}

/** A whole set request as sent on the socket. */
export function formatSetRequest(request: SetRequest): string {
  return ['set=1', ...formatSetLines(request), '', ''].join('\n');
}
