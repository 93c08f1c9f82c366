// Loads the native addon (build/Release/zmesh_native.node) and gives it types.
// The addon is found relative to the package root, so the same loader works
// from src/ under tsx and from dist/ after compilation.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeConstants {
  readonly AF_INET: number;
  readonly AF_INET6: number;
  readonly AF_NETLINK: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_RAW: number;
  readonly TUN_VNET_HDR: number;
  readonly TUN_MULTI_QUEUE: number;
}

/** Errors thrown by the addon carry the errno name and number. */
export interface NativeError extends Error {
  code: string;
  errno: number;
}

export interface NativeBinding {
  /** socket(2) inside the network namespace at `netnsPath` (null: the caller's). Returns the fd. */
  socketInNetns(netnsPath: string | null, domain: number, type: number, protocol: number): number;
  /** Opens (creating if needed) a TUN device by name inside a namespace. */
  openTun(netnsPath: string | null, name: string, flags: number): { fd: number; name: string };
  /**
   * A UDP socket created inside the network namespace at `netnsPath` (null: the caller's) and
   * bound there to `address` (numeric; '0.0.0.0' / '::' for any) and `port` (0: any free port).
   * v6 sockets are IPV6_V6ONLY. The fd is non-blocking and close-on-exec; `port` is the bound
   * port. Bad arguments throw code EINVAL naming the argument; nothing is left open on failure.
   */
  udpSocketInNetns(
    netnsPath: string | null,
    family: 4 | 6,
    address: string,
    port: number,
  ): { fd: number; port: number };
  /**
   * A listening IPv4 TCP socket created inside the namespace at `netnsPath`, bound to `address`:`port`
   * and to the link `device` (SO_BINDTODEVICE: connections arriving on any other link are never
   * accepted; IP_FREEBIND: the address may come later). Non-blocking, close-on-exec; returns the
   * fd (give it to net.Server#listen({ fd })). Bad arguments throw code EINVAL naming the argument.
   */
  tcpListenInNetns(netnsPath: string | null, address: string, port: number, device: string): number;
  closeFd(fd: number): void;
  /** SO_MARK on a socket (0 clears it); throws with the errno (EPERM without CAP_NET_ADMIN). */
  setSocketMark(fd: number, mark: number): void;
  /** Sets a link's MTU inside a namespace (SIOCSIFMTU). */
  setLinkMtu(netnsPath: string | null, name: string, mtu: number): void;
  /** The link's ifindex inside a namespace, 0 when there is no such link. */
  linkIndex(netnsPath: string | null, name: string): number;
  /**
   * Creates the named network namespace like `ip netns add NAME` (/run/netns made a shared
   * mount as ip(8) does; the new namespace is made on a short-lived thread, so the caller's
   * thread never moves) and returns its path, /run/netns/NAME. Its `lo` is DOWN. Throws code
   * EEXIST if the name is taken, EINVAL for a bad name (1..64 bytes of [A-Za-z0-9_.-]).
   */
  createNetns(name: string): string;
  /** Deletes the named namespace like `ip netns del NAME` (lazy unmount + unlink). ENOENT if absent. */
  deleteNetns(name: string): void;
  /**
   * Runs `fn` with the calling thread inside the namespace at `netnsPath` (null: stays where it
   * is) and returns its result; the thread always returns to its own namespace, also when fn
   * throws (the error is rethrown after leaving).
   *
   * !!! fn MUST BE SYNCHRONOUS AND SHORT. While it runs, the whole JS thread is in the other
   * namespace: anything it creates (sockets, TUNs) belongs there. An async fn returns at its
   * first await, and the rest runs later in the ORIGINAL namespace. Use it to create a socket
   * (e.g. the netlink package's constructor), nothing more.
   */
  inNetns<T>(netnsPath: string | null, fn: () => T): T;
  /**
   * Writes a per-namespace sysctl (`net.*` only; a '/' in a component stands for a literal
   * '.', as in sysctl(8)) as seen inside the namespace at `netnsPath`. Other keys: EINVAL naming the key.
   */
  writeSysctl(netnsPath: string | null, key: string, value: string): void;
  /** Reads a per-namespace `net.*` sysctl inside the namespace (trailing newline removed). */
  readSysctl(netnsPath: string | null, key: string): string;
  /** The inode that identifies the network namespace at `netnsPath` (null: the calling thread's). */
  netnsId(netnsPath: string | null): number;
  readonly constants: NativeConstants;
  /** libsodium itself (the library the data plane links), for the handshake's primitives. */
  readonly sodium: SodiumBinding;
}

/**
 * The libsodium functions of the WireGuard handshake (src/wg/crypto.ts). Wrong argument types or
 * sizes throw TypeError/RangeError; a refused result is null, never an exception.
 */
export interface SodiumBinding {
  /** crypto_scalarmult (X25519); null for an all-zero result (a low-order public key). */
  scalarmult(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  /** crypto_scalarmult_base: the public key of a private key (libsodium clamps the scalar). */
  scalarmultBase(privateKey: Uint8Array): Uint8Array;
  /** crypto_aead_chacha20poly1305_ietf_encrypt: ciphertext ‖ 16-byte tag (12-byte nonce). */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, authtext: Uint8Array): Uint8Array;
  /** The inverse of aeadSeal; null when the tag does not verify. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, authtext: Uint8Array): Uint8Array | null;
  /** crypto_aead_xchacha20poly1305_ietf_encrypt (24-byte nonce). */
  xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, authtext: Uint8Array): Uint8Array;
  xaeadOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, authtext: Uint8Array): Uint8Array | null;
  /** randombytes_buf. */
  randomBytes(length: number): Uint8Array;
  /** sodium_memcmp: constant-time equality of two byte strings of the same length. */
  equal(a: Uint8Array, b: Uint8Array): boolean;
}

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, 'utf8')).name === 'zmesh') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('zmesh: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let loaded: NativeBinding | undefined;

/** The addon, loaded once. Throws with the build command when it was not built. */
export function native(): NativeBinding {
  if (loaded) return loaded;
  const path = join(packageRoot(), 'build', 'Release', 'zmesh_native.node');
  if (!existsSync(path)) {
    throw new Error(`zmesh: native addon missing at ${path}; run scripts/setup (or npm run build:native)`);
  }
  loaded = createRequire(import.meta.url)(path) as NativeBinding;
  return loaded;
}
