/**
 * The life of a root-only UNIX socket file, shared by every zmesh server that listens on one
 * (the UAPI server of each WireGuard device, the control socket of `zmesh wgd`).
 *
 * Owns: the path-length check (sun_path), creating the directory with the mode asked for, the
 * stale-or-live decision for an existing path (a socket nobody answers on is unlinked and rebound;
 * a live one is refused; a non-socket is never removed), binding under umask 077 so the socket is
 * root-only from its first instant, publishing the path only once the socket listens, and
 * remembering the inode so that a server removes the file on close only when it is still its own
 * (a successor may have replaced it).
 *
 * Errors are SocketFileError with an errno-like code; each server maps them to its own error type.
 */
import { chmodSync, linkSync, lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
/** How long an existing socket may take to accept before it counts as live anyway. */
const LIVENESS_TIMEOUT_MS = 1000;

export type SocketFileErrorCode = 'EINVAL' | 'EADDRINUSE' | 'EEXIST' | 'EIO';

export class SocketFileError extends Error {
  override readonly name = 'SocketFileError';
  readonly code: SocketFileErrorCode;
  readonly path: string;
  /** The message without the path, for servers that carry the path as separate context. */
  readonly reason: string;

  constructor(code: SocketFileErrorCode, reason: string, socketPath: string, options?: { cause?: unknown }) {
    super(`${socketPath}: ${reason}`, options);
    this.code = code;
    this.reason = reason;
    this.path = socketPath;
  }
}

export interface BindOptions {
  /**
   * Mode of the directory when this call creates it. An existing directory is left as it is
   * (it may be shared, e.g. /var/run/wireguard, and is not ours to change).
   */
  readonly directoryMode: number;
}

/** The socket file a server bound, identified by its inode. */
export class BoundSocketFile {
  readonly path: string;
  readonly #dev: number;
  readonly #ino: number;

  constructor(socketPath: string, st: Stats) {
    this.path = socketPath;
    this.#dev = st.dev;
    this.#ino = st.ino;
  }

  /** True while the path still names the socket this server bound (not deleted, not replaced). */
  stillOurs(): boolean {
    const st = lstatOrNull(this.path);
    return st !== null && st.dev === this.#dev && st.ino === this.#ino;
  }

  /** Unlinks the file if it is still ours; a successor's socket is left alone. */
  removeIfOurs(): void {
    if (!this.stillOurs()) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone: nothing to clean up
    }
  }
}

/** Throws EINVAL when the path cannot be a UNIX socket address. */
export function checkSocketPath(socketPath: string): void {
  if (socketPath === '' || socketPath.includes('\0'))
    throw new SocketFileError('EINVAL', 'not a usable socket path', socketPath);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new SocketFileError('EINVAL', `socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes`, socketPath);
  }
}

let bindCounter = 0;

/**
 * Where a socket is bound and made to listen before it is published at `socketPath`: a hidden
 * name in the same directory (same file system, so it can be linked; not `*.sock`, so wg(8)
 * never lists it), or `socketPath` itself when the hidden name would not fit in sun_path.
 */
function bindingPath(socketPath: string): string {
  const name = `.${process.pid.toString(36)}-${(bindCounter++).toString(36)}.binding`;
  const hidden = path.join(path.dirname(socketPath), name);
  return Buffer.byteLength(hidden) <= MAX_SOCKET_PATH_BYTES ? hidden : socketPath;
}

/**
 * Makes `server` listen on `socketPath`: checks the path, creates the directory, replaces a stale
 * socket (refusing a live one or a non-socket) and binds under umask 077. The path appears only
 * once the socket listens (bound and listening under a hidden name, then hard-linked into place):
 * between bind() and listen() a client is refused, and wg(8) unlinks a socket that refuses it as
 * stale — a wg(8) run at that instant would remove a starting daemon's socket (and end it).
 */
export async function bindSocketFile(
  server: net.Server,
  socketPath: string,
  options: BindOptions,
): Promise<BoundSocketFile> {
  checkSocketPath(socketPath);
  const dir = path.dirname(socketPath);
  try {
    // mkdirSync reports the first directory it created; only then is the mode ours to set (the
    // umask would otherwise narrow it).
    if (mkdirSync(dir, { recursive: true, mode: options.directoryMode }) !== undefined)
      chmodSync(dir, options.directoryMode);
  } catch (error) {
    throw new SocketFileError(
      'EIO',
      `cannot create the directory: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      socketPath,
      { cause: error },
    );
  }
  await removeStaleSocket(socketPath);
  const listenPath = bindingPath(socketPath);
  if (listenPath !== socketPath) {
    try {
      unlinkSync(listenPath); // left by a crashed process whose pid we now have: never in use
    } catch {
      // none: the usual case
    }
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new SocketFileError('EADDRINUSE', 'socket is in use (created by another process meanwhile)', socketPath)
          : new SocketFileError('EIO', `cannot listen: ${err.code ?? err.message}`, socketPath, { cause: err }),
      );
    };
    server.once('error', onError);
    // The socket inode takes its mode from the umask at bind(): 077 makes it root-only from its
    // first instant, with no chmod window. bind happens synchronously inside listen().
    const previous = process.umask(0o077);
    try {
      server.listen(listenPath, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
  if (listenPath !== socketPath) {
    try {
      // link(), not rename(): it fails (EEXIST) rather than replace a socket someone bound meanwhile.
      linkSync(listenPath, socketPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      server.close();
      try {
        unlinkSync(listenPath);
      } catch {
        // libuv removed it on close (it unlinks the path it bound)
      }
      throw code === 'EEXIST'
        ? new SocketFileError('EADDRINUSE', 'socket is in use (created by another process meanwhile)', socketPath)
        : new SocketFileError('EIO', `cannot publish the socket: ${code ?? 'error'}`, socketPath, { cause: error });
    }
    unlinkSync(listenPath);
  }
  return new BoundSocketFile(socketPath, lstatSync(socketPath));
}

/** Unlinks a socket file nobody answers on; refuses a live socket or a non-socket. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  const st = lstatOrNull(socketPath);
  if (!st) return;
  if (!st.isSocket())
    throw new SocketFileError('EEXIST', 'path exists and is not a socket; not removing it', socketPath);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    const timer = setTimeout(() => {
      // Accepts but never answers within the timeout: someone holds it; treat as live.
      probe.destroy();
      resolve(true);
    }, LIVENESS_TIMEOUT_MS);
    probe.once('connect', () => {
      clearTimeout(timer);
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (live) throw new SocketFileError('EADDRINUSE', 'socket is in use by a running process', socketPath);
  try {
    unlinkSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SocketFileError(
        'EIO',
        `cannot remove the stale socket: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
        socketPath,
        { cause: error },
      );
    }
  }
}

export function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}
