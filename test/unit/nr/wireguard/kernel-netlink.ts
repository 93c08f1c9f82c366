// A reader of netlink messages for the kernel WireGuard encoding tests: turns one SET_DEVICE
// message into its header and an attribute tree, so tests can check the exact layout.
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLA_F_NESTED = 0x8000;
export const WG_CMD_SET_DEVICE = 1;

export const WGDEVICE_A = {
  IFINDEX: 1,
  IFNAME: 2,
  PRIVATE_KEY: 3,
  PUBLIC_KEY: 4,
  FLAGS: 5,
  LISTEN_PORT: 6,
  FWMARK: 7,
  PEERS: 8,
} as const;
export const WGPEER_A = {
  PUBLIC_KEY: 1,
  PRESHARED_KEY: 2,
  FLAGS: 3,
  ENDPOINT: 4,
  PERSISTENT_KEEPALIVE_INTERVAL: 5,
  ALLOWEDIPS: 9,
} as const;
export const WGALLOWEDIP_A = { FAMILY: 1, IPADDR: 2, CIDR_MASK: 3 } as const;

export interface Attr {
  readonly type: number;
  readonly nested: boolean;
  readonly data: Buffer;
}

export interface Message {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly cmd: number;
  readonly version: number;
  readonly attrs: Attr[];
}

export function attrs(data: Buffer): Attr[] {
  const out: Attr[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < 4) throw new Error(`truncated attribute header at ${pos}`);
    const len = data.readUInt16LE(pos);
    const type = data.readUInt16LE(pos + 2);
    if (len < 4 || pos + len > data.length)
      throw new Error(`attribute length ${len} at ${pos} overruns ${data.length}`);
    out.push({ type: type & 0x3fff, nested: (type & NLA_F_NESTED) !== 0, data: data.subarray(pos + 4, pos + len) });
    pos += (len + 3) & ~3;
  }
  return out;
}

export function message(buf: Buffer): Message {
  const length = buf.readUInt32LE(0);
  if (length !== buf.length) throw new Error(`nlmsg_len ${length} != buffer ${buf.length}`);
  return {
    length,
    type: buf.readUInt16LE(4),
    flags: buf.readUInt16LE(6),
    cmd: buf[16]!,
    version: buf[17]!,
    attrs: attrs(buf.subarray(20)),
  };
}

export function only(list: Attr[], type: number): Attr[] {
  return list.filter((a) => a.type === type);
}

export function one(list: Attr[], type: number): Attr | undefined {
  const found = only(list, type);
  if (found.length > 1) throw new Error(`attribute ${type} appears ${found.length} times`);
  return found[0];
}
