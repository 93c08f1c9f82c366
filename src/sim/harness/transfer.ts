// A TCP transfer between two namespaces that proves the bytes arrived intact:
// a small Node server (in `server`) hashes what it receives and reports the
// peer address it saw; a Node client (in `client`) sends N random bytes and
// hashes what it sent. Both run as tracked background processes of the world.
import { checkAddress } from './addresses.js';
import { HarnessError } from './errors.js';
import type { Namespace } from './namespace.js';
import type { BackgroundProcess } from './process.js';

export interface TransferOptions {
  server: Namespace;
  client: Namespace;
  /** Address the client connects to (the server listens on it, or on `listenAddress`). */
  connectTo: string;
  /** Where the server listens (default: `connectTo`; use 0.0.0.0 / :: behind DNAT). */
  listenAddress?: string;
  /** Server port; 0 (default) lets the kernel pick. */
  port?: number;
  /** Bytes to send (default 1 MiB). */
  bytes?: number;
  /** For the whole transfer (default 30 s). */
  timeoutMs?: number;
  /**
   * The client sends at most this many bytes per second (default: as fast as it can): a test
   * that acts during a transfer gets a transfer that lasts, however fast the path is.
   */
  maxBytesPerSecond?: number;
}

export interface TransferResult {
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly sentSha256: string;
  readonly receivedSha256: string;
  /** True when every byte arrived and the hashes agree. */
  readonly intact: boolean;
  /** Source address of the connection as the server saw it (shows NAT). */
  readonly peerAddress: string;
  readonly durationMs: number;
}

const SERVER = `
const net = require('node:net'), crypto = require('node:crypto');
const [host, port] = process.argv.slice(1);
const srv = net.createServer((sock) => {
  srv.close();
  const h = crypto.createHash('sha256');
  let n = 0;
  const peer = sock.remoteAddress;
  sock.on('data', (d) => { n += d.length; h.update(d); });
  sock.on('end', () => {
    console.log(JSON.stringify({ done: true, bytes: n, sha256: h.digest('hex'), peer }));
    sock.end();
  });
});
srv.listen({ host, port: Number(port) }, () => console.log(JSON.stringify({ listening: srv.address().port })));
`;

const CLIENT = `
const net = require('node:net'), crypto = require('node:crypto');
const [host, port, total, rate] = process.argv.slice(1);
const h = crypto.createHash('sha256');
let left = Number(total), sent = 0;
const sock = net.connect({ host, port: Number(port) }, () => {
  const start = Date.now();
  const pump = () => {
    while (left > 0) {
      if (Number(rate) > 0 && sent > (Number(rate) * (Date.now() - start)) / 1000) { setTimeout(pump, 5); return; }
      const b = crypto.randomBytes(Math.min(65536, left));
      left -= b.length; sent += b.length; h.update(b);
      if (!sock.write(b)) { sock.once('drain', pump); return; }
    }
    sock.end();
  };
  pump();
});
sock.on('data', () => {});
sock.on('close', () => console.log(JSON.stringify({ done: true, bytes: sent, sha256: h.digest('hex') })));
sock.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

interface Done {
  bytes: number;
  sha256: string;
  peer?: string;
}

function lastJson(proc: BackgroundProcess): Done {
  const line = proc.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Done;
}

export async function tcpTransfer(opts: TransferOptions): Promise<TransferResult> {
  checkAddress(opts.connectTo, 'connectTo');
  const listenAddress = checkAddress(opts.listenAddress ?? opts.connectTo, 'listenAddress');
  const bytes = opts.bytes ?? 1 << 20;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (!Number.isInteger(bytes) || bytes < 0) {
    throw new HarnessError('INVALID_ARGUMENT', `bytes ${bytes} must be a non-negative integer`, { field: 'bytes' });
  }
  const rate = opts.maxBytesPerSecond ?? 0;
  if (!Number.isInteger(rate) || rate < 0) {
    throw new HarnessError('INVALID_ARGUMENT', `maxBytesPerSecond ${rate} must be a positive integer`, {
      field: 'maxBytesPerSecond',
    });
  }
  const node = process.execPath;
  const server = opts.server.spawn(node, ['-e', SERVER, listenAddress, String(opts.port ?? 0)]);
  let client: BackgroundProcess | undefined;
  try {
    const listening = await server.waitForOutput(/\{"listening":(\d+)\}/, { timeoutMs: Math.min(timeoutMs, 10_000) });
    const port = listening[1] ?? '0';
    const started = performance.now();
    client = opts.client.spawn(node, ['-e', CLIENT, opts.connectTo, port, String(bytes), String(rate)]);
    await Promise.all([
      server.waitForOutput(/"done":true/, { timeoutMs }),
      client.waitForOutput(/"done":true/, { timeoutMs }),
    ]);
    const durationMs = performance.now() - started;
    const got = lastJson(server);
    const sent = lastJson(client);
    return {
      sentBytes: sent.bytes,
      receivedBytes: got.bytes,
      sentSha256: sent.sha256,
      receivedSha256: got.sha256,
      intact: sent.bytes === got.bytes && sent.sha256 === got.sha256,
      peerAddress: (got.peer ?? '').replace(/^::ffff:/, ''),
      durationMs,
    };
  } finally {
    await Promise.all([server.stop({ graceMs: 500 }), client?.stop({ graceMs: 500 })]);
  }
}
