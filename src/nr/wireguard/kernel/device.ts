/**
 * Kernel WireGuard through the native addon: the typed API the rest of zmesh calls. Owns the
 * conversion between zmesh's types (base64 public keys, `PrivateKey` and `PresharedKey` for the
 * secrets, numeric endpoint and prefix text) and the addon's raw shapes, the checks that refuse bad
 * input before anything is sent, and the zeroing of every key copy it makes.
 *
 * Calls are synchronous (a netlink round trip per ≤ 32 KiB message). Nearly all of a large set's
 * time is the kernel's, one X25519 per new peer (3.5 s for 10,000 peers in the emulated guest,
 * where packing and parsing them costs ~0.1 s); networkd accepts that on its event loop.
 */
import { PresharedKey, PrivateKey } from '../../../netdef/index.js';
import { KernelWgError, fromAddon, invalidInput } from './errors.js';
import { kernelWgNative, type RawDevice, type RawDeviceSet } from './native.js';
import { packPeers } from './peer-batch.js';
import type { KernelDevice, KernelDeviceSet } from './types.js';

const IFNAMSIZ = 16;

/** Linux interface names: 1..15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
export function checkIfname(operation: string, field: string, name: unknown): string {
  if (typeof name !== 'string') throw invalidInput(operation, field, 'must be a string');
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes >= IFNAMSIZ) {
    throw invalidInput(operation, field, `'${name}' is ${bytes} bytes; an interface name is 1..${IFNAMSIZ - 1} bytes`);
  }
  if (/[/:\s]/.test(name) || name === '.' || name === '..') {
    throw invalidInput(
      operation,
      field,
      `'${name}' is not a valid interface name (no '/', ':', whitespace, '.' or '..')`,
    );
  }
  return name;
}

/**
 * The raw request for the addon, its peers packed (peer-batch.ts). `secrets` collects every key
 * copy made, for the caller to zero once the request has been sent. The addon checks the text of
 * keys, endpoints and allowed IPs; this checks the rest.
 */
export function toRawDeviceSet(ifname: string, config: KernelDeviceSet, secrets: Uint8Array[]): RawDeviceSet {
  const op = 'set';
  const device = checkIfname(op, 'ifname', ifname);
  const raw: RawDeviceSet = { ifname: device };
  if (config.privateKey === null) raw.privateKey = null;
  else if (config.privateKey !== undefined) {
    if (!(config.privateKey instanceof PrivateKey))
      throw invalidInput(op, 'privateKey', 'must be a PrivateKey', device);
    const bytes = config.privateKey.bytes();
    secrets.push(bytes);
    raw.privateKey = bytes;
  }
  if (config.listenPort !== undefined) raw.listenPort = config.listenPort;
  if (config.fwmark !== undefined) raw.fwmark = config.fwmark;
  if (config.replacePeers) raw.replacePeers = true;
  if (config.peers !== undefined) {
    raw.peers = packPeers(config.peers, op, device, secrets);
  }
  return raw;
}

/** True when the kernel of the namespace has the generic netlink family `wireguard`. */
export function wireguardFamilyAvailable(netnsPath: string | null = null): boolean {
  try {
    return kernelWgNative().wgFamilyAvailable(netnsPath);
  } catch (err) {
    throw fromAddon(err, { operation: 'probe', netnsPath });
  }
}

/**
 * Applies `config` to the kernel device `ifname` in the namespace, split over as many netlink
 * messages as needed. Input is checked in full before the first message; a kernel refusal
 * (ENODEV for a missing device) of the first message changes nothing.
 */
export function setDevice(netnsPath: string | null, ifname: string, config: KernelDeviceSet): void {
  const secrets: Uint8Array[] = [];
  try {
    const raw = toRawDeviceSet(ifname, config, secrets);
    kernelWgNative().wgSetDevice(netnsPath, raw);
  } catch (err) {
    if (err instanceof KernelWgError) throw err;
    throw fromAddon(err, { operation: 'set', device: ifname, netnsPath });
  } finally {
    for (const s of secrets) s.fill(0);
  }
}

function fromRaw(raw: RawDevice): KernelDevice {
  const privateKey = raw.privateKey ? PrivateKey.fromBytesOrClear(raw.privateKey) : null;
  raw.privateKey?.fill(0);
  return {
    ifname: raw.ifname,
    ifindex: raw.ifindex,
    privateKey,
    publicKey: raw.publicKey ? raw.publicKey.toString('base64') : null,
    listenPort: raw.listenPort,
    fwmark: raw.fwmark,
    peers: raw.peers.map((p) => {
      const presharedKey = p.presharedKey ? PresharedKey.fromBytesOrNone(p.presharedKey) : null;
      p.presharedKey?.fill(0);
      return {
        publicKey: p.publicKey.toString('base64'),
        presharedKey,
        endpoint: p.endpoint,
        persistentKeepalive: p.persistentKeepalive,
        lastHandshake:
          p.lastHandshakeSec === 0 && p.lastHandshakeNsec === 0 ? null : p.lastHandshakeSec + p.lastHandshakeNsec / 1e9,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
        protocolVersion: p.protocolVersion,
        allowedIps: p.allowedIps,
      };
    }),
  };
}

/** Reads the device (GET_DEVICE dump, peers split across messages merged). Throws ENODEV when absent. */
export function getDevice(netnsPath: string | null, ifname: string): KernelDevice {
  const name = checkIfname('get', 'ifname', ifname);
  let raw: RawDevice;
  try {
    raw = kernelWgNative().wgGetDevice(netnsPath, name);
  } catch (err) {
    throw fromAddon(err, { operation: 'get', device: name, netnsPath });
  }
  return fromRaw(raw);
}

/** Decodes dump messages as getDevice does (test entry point for the reassembly). */
export function decodeDeviceMessages(messages: readonly Uint8Array[]): KernelDevice {
  return fromRaw(kernelWgNative().wgDecodeDeviceMessages(messages));
}

/**
 * Creates a link of kind wireguard named `name` through a netlink socket of `netnsPath` (the
 * node's namespace: the device's UDP socket lives there), placed in `moveToNetnsPath` when given
 * (the NR's namespace), up, with `mtu` (0: the kernel's default, 1420).
 */
export function createLink(
  name: string,
  netnsPath: string | null,
  moveToNetnsPath: string | null = null,
  mtu = 0,
): void {
  const link = checkIfname('create link', 'name', name);
  if (!Number.isInteger(mtu) || (mtu !== 0 && (mtu < 68 || mtu > 65535))) {
    throw invalidInput('create link', 'mtu', `${mtu} is outside 68..65535`, link);
  }
  try {
    kernelWgNative().wgCreateLink(netnsPath, link, moveToNetnsPath, mtu);
  } catch (err) {
    throw fromAddon(err, { operation: 'create link', device: link, netnsPath });
  }
}

/** Deletes the link `name` in the namespace. Throws ENODEV when it does not exist. */
export function deleteLink(name: string, netnsPath: string | null): void {
  const link = checkIfname('delete link', 'name', name);
  try {
    kernelWgNative().wgDeleteLink(netnsPath, link);
  } catch (err) {
    throw fromAddon(err, { operation: 'delete link', device: link, netnsPath });
  }
}

/** Names of the links of kind wireguard in the namespace. */
export function listLinks(netnsPath: string | null): string[] {
  try {
    return kernelWgNative().wgListLinks(netnsPath);
  } catch (err) {
    throw fromAddon(err, { operation: 'list links', netnsPath });
  }
}
