/**
 * Parsing of the cross-platform userspace API's text: requests (`get=1` / `set=1` and their
 * key=value lines) into the configuration model's SetRequest, and `get` answers back into a
 * DeviceView (for the client).
 *
 * Every line of a set request is validated before anything is applied: the result is either a
 * complete SetRequest or a UapiError naming the first bad line, its key and the reason. Error
 * classes, as wireguard-go answers them: a line without '=' is -EPROTO; an unknown key, a bad
 * value, a boolean other than exactly `true`, a device key after the first public_key or a peer
 * key before it is -EINVAL. Keys are hex, uppercase accepted (wg and wireguard-go accept it).
 */
import type { DeviceOperation, PeerOperation, PeerSection, SetRequest } from '../config.js';
import { UapiError, invalid, type UapiErrorContext } from './errors.js';
import { AllowedIp, UapiEndpoint, parseDecimal } from './ip.js';
import { KeyFormatError } from '../../netdef/errors.js';
import { PresharedKey, PrivateKey, PublicKey } from '../../netdef/keys.js';
import type { DeviceView, PeerView } from './view.js';

/** A key parsed by the key model (netdef/keys.ts); its refusal becomes the UAPI's -EINVAL naming the line and key. */
function uapiKey<T>(parse: () => T, context: UapiErrorContext): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof KeyFormatError) throw invalid(error.reason, context);
    throw error;
  }
}

export type ParsedRequest = { readonly op: 'get' } | { readonly op: 'set'; readonly request: SetRequest };

const DEVICE_KEYS = new Set(['private_key', 'listen_port', 'fwmark', 'replace_peers']);
const PEER_KEYS = new Set([
  'remove',
  'update_only',
  'preshared_key',
  'endpoint',
  'persistent_keepalive_interval',
  'replace_allowed_ips',
  'allowed_ip',
  'protocol_version',
]);

/** Splits `key=value` at the first '='; a line without one is a protocol error (-EPROTO). */
export function splitLine(line: string, lineNumber: number): [string, string] {
  const eq = line.indexOf('=');
  // The line is not echoed: a key line that lost its '=' would put key material in a log.
  if (eq < 0)
    throw new UapiError('EPROTO', `expected key=value, got a line of ${line.length} characters without '='`, {
      line: lineNumber,
    });
  return [line.slice(0, eq), line.slice(eq + 1)];
}

/** A key name fit to appear in an error: protocol keys are short lowercase words, anything else
 *  (possibly a pasted key) is described, not echoed. */
export function printableKey(key: string): string {
  return /^[a-z_]{1,40}$/.test(key) ? key : `(${key.length}-character key)`;
}

function parseTrue(value: string, context: UapiErrorContext): void {
  if (value !== 'true')
    throw invalid(`the only accepted value is "true", got ${JSON.stringify(value.slice(0, 40))}`, context);
}

function parseDeviceLine(key: string, value: string, context: UapiErrorContext): DeviceOperation {
  switch (key) {
    case 'private_key':
      return { kind: 'private_key', privateKey: uapiKey(() => PrivateKey.fromHexOrClear(value), context) };
    case 'listen_port':
      return { kind: 'listen_port', port: parseDecimal(value, 0xffff, context) };
    case 'fwmark':
      return { kind: 'fwmark', fwmark: parseDecimal(value, 0xffffffff, context) };
    case 'replace_peers':
      parseTrue(value, context);
      return { kind: 'replace_peers' };
    default:
      throw new Error(`unreachable device key ${key}`);
  }
}

function parsePeerLine(key: string, value: string, context: UapiErrorContext): PeerOperation {
  switch (key) {
    case 'remove':
    case 'update_only':
    case 'replace_allowed_ips':
      parseTrue(value, context);
      return { kind: key };
    case 'preshared_key':
      return { kind: 'preshared_key', presharedKey: uapiKey(() => PresharedKey.fromHexOrNone(value), context) };
    case 'endpoint':
      return { kind: 'endpoint', endpoint: UapiEndpoint.parse(value, context) };
    case 'persistent_keepalive_interval':
      return { kind: 'persistent_keepalive_interval', seconds: parseDecimal(value, 0xffff, context) };
    case 'allowed_ip':
      return { kind: 'allowed_ip', allowedIp: AllowedIp.parse(value, context) };
    case 'protocol_version':
      if (value !== '1')
        throw invalid(`only protocol version 1 exists, got ${JSON.stringify(value.slice(0, 40))}`, context);
      return { kind: 'protocol_version', version: 1 };
    default:
      throw new Error(`unreachable peer key ${key}`);
  }
}

/**
 * Builds a SetRequest line by line, as the server reads them. After the first bad line it keeps
 * accepting (and ignoring) lines, so the server can read on to the blank line that ends the
 * request and keep the connection in step; `finish()` then throws that first error.
 */
export class SetRequestBuilder {
  readonly #device: DeviceOperation[] = [];
  readonly #peers: { publicKey: PublicKey; operations: PeerOperation[] }[] = [];
  #error: UapiError | null = null;
  #lineNumber: number;

  /** `firstLineNumber`: the number of the first key=value line (2 when `set=1` was line 1). */
  constructor(firstLineNumber = 2) {
    this.#lineNumber = firstLineNumber - 1;
  }

  get failed(): boolean {
    return this.#error !== null;
  }

  add(line: string): void {
    this.#lineNumber++;
    if (this.#error) return;
    try {
      this.#addLine(line, this.#lineNumber);
    } catch (err) {
      if (!(err instanceof UapiError)) throw err;
      this.#error = err;
    }
  }

  #addLine(line: string, lineNumber: number): void {
    const [key, value] = splitLine(line, lineNumber);
    const context: UapiErrorContext = { line: lineNumber, key };
    const current = this.#peers.at(-1);
    if (key === 'public_key') {
      this.#peers.push({ publicKey: uapiKey(() => PublicKey.fromHex(value), context), operations: [] });
    } else if (DEVICE_KEYS.has(key)) {
      if (current) throw invalid('a device key must come before the first public_key line', context);
      this.#device.push(parseDeviceLine(key, value, context));
    } else if (PEER_KEYS.has(key)) {
      if (!current) throw invalid('a peer key must follow a public_key line', context);
      current.operations.push(parsePeerLine(key, value, context));
    } else {
      throw invalid('unknown key', { line: lineNumber, key: printableKey(key) });
    }
  }

  finish(): SetRequest {
    if (this.#error) throw this.#error;
    const peers: PeerSection[] = this.#peers.map((p) =>
      Object.freeze({ publicKey: p.publicKey, operations: Object.freeze([...p.operations]) }),
    );
    return Object.freeze({ device: Object.freeze([...this.#device]), peers: Object.freeze(peers) });
  }
}

/** Parses the key=value lines of a set request (without `set=1` and the blank line). */
export function parseSetLines(lines: readonly string[]): SetRequest {
  const builder = new SetRequestBuilder();
  for (const line of lines) builder.add(line);
  return builder.finish();
}

/**
 * Parses one whole request as it arrives on the socket: `get=1\n\n` or `set=1\n` + lines + `\n`.
 * Text after the blank line is refused (one request per call).
 */
export function parseRequest(text: string): ParsedRequest {
  const end = text.indexOf('\n\n');
  if (end < 0 && !text.endsWith('\n'))
    throw new UapiError('EPROTO', 'request does not end with a newline and a blank line', {});
  const body = end < 0 ? text.slice(0, -1) : text.slice(0, end);
  if (end >= 0 && end + 2 !== text.length)
    throw new UapiError('EPROTO', 'text after the blank line that ends the request', {});
  const [op = '', ...lines] = body.split('\n');
  if (op === 'get=1') {
    if (lines.length > 0) throw invalid('get=1 takes no lines before the blank line', { line: 2 });
    return { op: 'get' };
  }
  if (op === 'set=1') return { op: 'set', request: parseSetLines(lines) };
  const [key] = splitLine(op, 1);
  throw invalid('expected get=1 or set=1', { line: 1, key: printableKey(key) });
}

/**
 * Parses a `get` answer (the lines before `errno=`) into a DeviceView. Used by the client; the
 * server's own output and wireguard-go's both parse.
 */
export function parseGetResponse(lines: readonly string[]): DeviceView {
  let privateKey: PrivateKey | null = null;
  let listenPort = 0;
  let fwmark = 0;
  const peers: PeerView[] = [];
  type MutablePeerView = { -readonly [K in keyof PeerView]: PeerView[K] } & { allowedIps: AllowedIp[] };
  let peer: MutablePeerView | null = null;
  lines.forEach((line, i) => {
    const [key, value] = splitLine(line, i + 1);
    const context: UapiErrorContext = { line: i + 1, key };
    if (key === 'public_key') {
      peer = {
        publicKey: uapiKey(() => PublicKey.fromHex(value), context),
        presharedKey: null,
        endpoint: null,
        persistentKeepalive: 0,
        allowedIps: [],
        lastHandshake: { sec: 0, nsec: 0 },
        txBytes: 0n,
        rxBytes: 0n,
        protocolVersion: 1,
      };
      peers.push(peer);
      return;
    }
    if (!peer) {
      if (key === 'private_key') privateKey = uapiKey(() => PrivateKey.fromHexOrClear(value), context);
      else if (key === 'listen_port') listenPort = parseDecimal(value, 0xffff, context);
      else if (key === 'fwmark') fwmark = parseDecimal(value, 0xffffffff, context);
      return; // unknown device keys (e.g. a future extension) are skipped, as wg(8) does
    }
    const p: MutablePeerView = peer;
    switch (key) {
      case 'preshared_key':
        p.presharedKey = uapiKey(() => PresharedKey.fromHexOrNone(value), context);
        break;
      case 'endpoint':
        p.endpoint = UapiEndpoint.parse(value, context);
        break;
      case 'persistent_keepalive_interval':
        p.persistentKeepalive = parseDecimal(value, 0xffff, context);
        break;
      case 'allowed_ip':
        p.allowedIps.push(AllowedIp.parse(value, context));
        break;
      case 'last_handshake_time_sec':
        p.lastHandshake = { ...p.lastHandshake, sec: parseDecimal(value, Number.MAX_SAFE_INTEGER, context) };
        break;
      case 'last_handshake_time_nsec':
        p.lastHandshake = { ...p.lastHandshake, nsec: parseDecimal(value, 999_999_999, context) };
        break;
      case 'tx_bytes':
        p.txBytes = parseCounter(value, context);
        break;
      case 'rx_bytes':
        p.rxBytes = parseCounter(value, context);
        break;
      default:
        break; // protocol_version and unknown peer keys
    }
  });
  return { privateKey, listenPort, fwmark, peers };
}

function parseCounter(value: string, context: UapiErrorContext): bigint {
  if (!/^\d{1,20}$/.test(value) || BigInt(value) > 0xffffffffffffffffn)
    throw invalid('not an unsigned 64-bit counter', context);
  return BigInt(value);
}
