#!/usr/bin/env python3
"""Writes the hand-built seed inputs of test/fuzz/corpus/ (run once; the files are committed).
Each seed is a well-formed case of the input format its harness documents, so that the fuzzer
starts from the deep paths (a decrypting transport batch, a TSO super-packet, a GET_DEVICE
reply with peers, a nested allowed-IPs table) instead of having to find their framing."""
import os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def put(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

def ipv4_tcp(src, dst, seq, payload, flags=0x10):
    tcp = struct.pack('!HHIIBBHHH', 40000, 5201, seq, 1, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, 7, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    return ip + tcp + payload

def ipv6_udp(src, dst, payload):
    udp = struct.pack('!HHHH', 5353, 53, 8 + len(payload), 0)
    ip = struct.pack('!IHBB16s16s', 6 << 28, len(udp) + len(payload), 17, 64, bytes(src), bytes(dst))
    return ip + udp + payload

A = [10, 0, 1, 5]; B = [10, 0, 1, 1]
A6 = [0xfd, 0, 0, 1] + [0] * 11 + [5]; B6 = [0xfd, 0, 0, 1] + [0] * 11 + [1]

# receive: [vnet] then per message [kind][len:2] ...; sealed (kind 1): [keypair][counter:8][plaintext]
def sealed(which, counter, plain):
    return struct.pack('<BHBQ', 1, len(plain), which, counter) + plain
def raw(data, kind=0, gro=None):
    return struct.pack('<BH', kind, len(data)) + data + (struct.pack('<h', gro) if gro is not None else b'')
seg = lambda i: ipv4_tcp(A, B, 1000 + 100 * i, bytes([i]) * 100)
put('receive', 'tcp-run-vnet', bytes([1]) + b''.join(sealed(0, i, seg(i)) for i in range(4)))
put('receive', 'ipv6-next-keypair', bytes([0]) + sealed(1, 0, ipv6_udp(A6, B6, b'q' * 40)) + sealed(2, 0, ipv4_tcp([10, 0, 2, 9], B, 5, b'x')))
put('receive', 'handshakes', bytes([0]) + raw(struct.pack('<I', 1) + bytes(144)) + raw(struct.pack('<I', 2) + bytes(88))
    + raw(struct.pack('<I', 3) + bytes(60)) + raw(struct.pack('<I', 1) + bytes(10)))
put('receive', 'gro-transport', bytes([0]) + raw((struct.pack('<IIQ', 4, 11, 0) + bytes(16)) * 3, kind=2, gro=32))
put('receive', 'replay', bytes([0]) + sealed(0, 5, seg(0)) + sealed(0, 5, seg(0)) + sealed(0, 3, seg(1)) + struct.pack('<BHBQ', 3, 0, 0, 9))

# offload: [mode] then split: [virtio_net_hdr:10][capacity:2][packet] / gro: [items][pieces] then [len:2][packet]...
def vnet(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset):
    return struct.pack('<BBHHHH', flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)
big = ipv4_tcp(A, B, 1, bytes(range(256)) * 11)
put('offload', 'tso4', bytes([0]) + vnet(1, 1, 40, 1000, 20, 16) + struct.pack('<H', 1500 - 576) + big)
u6 = ipv6_udp(A6, B6, b'u' * 3000)
put('offload', 'uso6', bytes([0]) + vnet(1, 5, 48, 1200, 40, 6) + struct.pack('<H', 1500 - 576) + u6)
put('offload', 'csum-only', bytes([0]) + vnet(1, 0, 0, 0, 20, 16) + struct.pack('<H', 0) + seg(1))
run = b''.join(struct.pack('<H', len(p)) + p for p in [seg(0), seg(1), seg(2), ipv4_tcp(A, B, 1300, b'e' * 50, 0x18)])
put('offload', 'gro-run', bytes([1, 255, 255]) + run)

# wgk_message: [len:2][genlmsghdr][attributes]...
def nla(t, payload, nested=False):
    n = 4 + len(payload)
    return struct.pack('<HH', n, t | (0x8000 if nested else 0)) + payload + bytes((4 - n % 4) % 4)
aip = lambda fam, addr, cidr: nla(0, nla(1, struct.pack('<H', fam)) + nla(2, bytes(addr)) + nla(3, bytes([cidr])), True)
peer = nla(0, nla(1, bytes(range(32))) + nla(4, struct.pack('<HH4s8s', 2, 51820, bytes([127, 0, 0, 1]), bytes(8)))
           + nla(5, struct.pack('<H', 25)) + nla(7, struct.pack('<Q', 1234)) + nla(10, struct.pack('<I', 1))
           + nla(9, aip(2, [10, 0, 1, 0], 24) + aip(10, A6[:8] + [0] * 8, 64), True), True)
dev = bytes([0, 1, 0, 0]) + nla(1, struct.pack('<I', 7)) + nla(2, b'wg0\0') + nla(3, bytes(32)) + nla(4, bytes([9]) * 32) \
    + nla(6, struct.pack('<H', 51820)) + nla(7, struct.pack('<I', 0)) + nla(8, peer, True)
cont = bytes([0, 1, 0, 0]) + nla(8, nla(0, nla(1, bytes(range(32))) + nla(9, aip(2, [10, 9, 0, 0], 16), True), True), True)
put('wgk_message', 'device-peer-continued', struct.pack('<H', len(dev)) + dev + struct.pack('<H', len(cont)) + cont)

# allowedips: [op][cidr][addr:4|16][owner]; op bit 0: IPv6, op >> 1: insert, remove-exact, remove-owner, lookup
def op(kind, v6, cidr, addr, owner):
    return bytes([kind << 1 | v6, cidr]) + bytes(addr) + bytes([owner])
put('allowedips', 'nested', op(0, 0, 8, [10, 0, 0, 0], 0) + op(0, 0, 16, [10, 1, 0, 0], 1) + op(0, 0, 32, [10, 1, 2, 3], 2)
    + op(3, 0, 0, [10, 1, 2, 4], 0) + op(1, 0, 16, [10, 1, 9, 9], 1) + op(0, 1, 64, A6, 3) + op(0, 1, 0, [0] * 16, 4)
    + op(2, 0, 0, [0] * 4, 0) + op(3, 1, 128, B6, 0) + op(0, 0, 33, [1, 2, 3, 4], 1))
