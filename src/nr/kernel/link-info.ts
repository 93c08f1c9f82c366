/**
 * IFLA_LINKINFO, which the netlink package leaves as a raw Buffer: a tiny netlink-attribute (TLV)
 * encoder for what zmesh creates (a link of a given kind; a veth whose peer has a name and,
 * optionally, a namespace) and a decoder for the kind of an existing link.
 */

// include/uapi/linux/if_link.h, veth.h, rtnetlink.h
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_NET_NS_FD = 28;
const NLA_TYPE_MASK = 0x3fff; // strips NLA_F_NESTED / NLA_F_NET_BYTEORDER
const IFINFOMSG_LENGTH = 16;

/** One netlink attribute: 16-bit length (header included), 16-bit type, payload padded to 4. */
export function attribute(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

function cString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(1)]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0, 0);
  return b;
}

/** IFLA_LINKINFO payload for a link with no kind-specific data (bridge, dummy, ...). */
export function linkInfoOfKind(kind: string): Buffer {
  return attribute(IFLA_INFO_KIND, cString(kind));
}

export interface VethPeer {
  readonly name: string;
  /** An open fd of the namespace the peer end is created in; undefined: the same namespace. */
  readonly netnsFd?: number;
  readonly mtu?: number;
}

/** IFLA_LINKINFO payload for a veth pair: kind "veth" and VETH_INFO_PEER = ifinfomsg + attributes. */
export function vethLinkInfo(peer: VethPeer): Buffer {
  const peerAttrs = [attribute(IFLA_IFNAME, cString(peer.name))];
  if (peer.netnsFd !== undefined) peerAttrs.push(attribute(IFLA_NET_NS_FD, u32(peer.netnsFd)));
  if (peer.mtu !== undefined) peerAttrs.push(attribute(IFLA_MTU, u32(peer.mtu)));
  const peerMessage = Buffer.concat([Buffer.alloc(IFINFOMSG_LENGTH), ...peerAttrs]);
  return Buffer.concat([
    attribute(IFLA_INFO_KIND, cString('veth')),
    attribute(IFLA_INFO_DATA, attribute(VETH_INFO_PEER, peerMessage)),
  ]);
}

/** The attributes of a TLV stream as [type, payload] (malformed tails are ignored, as the kernel does). */
export function parseAttributes(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.push([buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len)]);
    off += (len + 3) & ~3;
  }
  return out;
}

/** IFLA_INFO_KIND of an IFLA_LINKINFO payload ("veth", "bridge", "tun", "wireguard", ...), or null. */
export function kindOfLinkInfo(linkinfo: Buffer | undefined): string | null {
  if (!linkinfo) return null;
  for (const [type, payload] of parseAttributes(linkinfo)) {
    if (type === IFLA_INFO_KIND) {
      const nul = payload.indexOf(0);
      return payload.subarray(0, nul < 0 ? payload.length : nul).toString('utf8');
    }
  }
  return null;
}
