// Small real servers and clients the simulated world runs inside namespaces, as Node one-liners
// (no extra packages): the TEST-NET "who am I" HTTP server that records the source address of
// every connection, the client that asks it, a TCP listener, and a TCP connect probe that tells
// a dropped connection (no answer: timeout) from a refused one (an RST: the path is open).
import type { Namespace } from './harness/namespace.js';
import type { BackgroundProcess } from './harness/process.js';

/** Logs `{"conn":"<source>"}` per connection and answers every request with `{"source":"<source>"}`. */
const WHOAMI_SERVER = `
const http = require('node:http');
const [host, port] = process.argv.slice(1);
const strip = (a) => String(a).replace(/^::ffff:/, '');
const srv = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.setHeader('connection', 'close');
  res.end(JSON.stringify({ source: strip(req.socket.remoteAddress) }) + '\\n');
});
srv.on('connection', (s) => console.log(JSON.stringify({ conn: strip(s.remoteAddress) })));
srv.listen({ host, port: Number(port) }, () => console.log(JSON.stringify({ listening: srv.address().port })));
`;

const WHOAMI_CLIENT = `
const http = require('node:http');
const [host, port, ms] = process.argv.slice(1);
const req = http.get({ host, port: Number(port), path: '/', timeout: Number(ms), agent: false }, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => {
    try { console.log(JSON.stringify({ ok: true, source: JSON.parse(body).source })); }
    catch { console.log(JSON.stringify({ ok: false, reason: 'bad answer' })); }
  });
});
req.on('timeout', () => { console.log(JSON.stringify({ ok: false, reason: 'timeout' })); req.destroy(); process.exit(0); });
req.on('error', (e) => { console.log(JSON.stringify({ ok: false, reason: e.code || e.message })); process.exit(0); });
`;

/** Accepts connections, writes `hello` and closes. */
const TCP_LISTENER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
// A client that resets right after connecting (tcpProbe does) makes the greeting fail with
// ECONNRESET/EPIPE: ignored, or the unhandled error would end the listener for every later probe.
const srv = net.createServer((s) => { s.on('error', () => {}); s.end('hello\\n'); });
srv.listen({ host, port: Number(port) }, () => console.log(JSON.stringify({ listening: srv.address().port })));
`;

const TCP_PROBE = `
const net = require('node:net');
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
const out = (r) => { console.log(JSON.stringify({ result: r })); s.destroy(); process.exit(0); };
s.setTimeout(Number(ms), () => out('timeout'));
s.on('connect', () => out('connected'));
s.on('error', (e) => out(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? 'unreachable' : 'error:' + e.code));
`;

/**
 * One TCP connection attempt every `interval` ms, each on its own (a slow one does not delay the
 * next): prints `{"seq":N,"at":MS,"result":R}` per attempt, R being what the server sent (trimmed)
 * or 'timeout' / 'error:CODE'.
 */
const TCP_POLLER = `
const net = require('node:net');
const [host, port, interval, ms] = process.argv.slice(1);
let seq = 0;
setInterval(() => {
  const n = ++seq, at = Date.now();
  let text = '', done = false;
  const out = (r) => { if (done) return; done = true; console.log(JSON.stringify({ seq: n, at, result: r })); s.destroy(); };
  const s = net.connect({ host, port: Number(port) });
  s.setEncoding('utf8');
  s.setTimeout(Number(ms), () => out('timeout'));
  s.on('data', (d) => (text += d));
  s.on('end', () => out(text.trim() || 'empty'));
  s.on('error', (e) => out('error:' + e.code));
}, Number(interval));
`;

export interface TcpAttempt {
  readonly seq: number;
  /** Date.now() when the attempt started. */
  readonly at: number;
  /** The server's greeting, 'timeout', 'empty' or 'error:CODE'. */
  readonly result: string;
}

/** Starts TCP attempts at `address:port` from `ns` every `intervalMs`, each given `timeoutMs`. */
export function startTcpPoller(
  ns: Namespace,
  address: string,
  port: number,
  intervalMs = 100,
  timeoutMs = 1_000,
): BackgroundProcess {
  return ns.spawn(process.execPath, ['-e', TCP_POLLER, address, String(port), String(intervalMs), String(timeoutMs)]);
}

/** The attempts a poller has finished so far, in the order they finished. */
export function tcpAttempts(poller: BackgroundProcess): TcpAttempt[] {
  return [...poller.stdout.matchAll(/^\{"seq":.*\}$/gm)].map((m) => JSON.parse(m[0]) as TcpAttempt);
}

export type WhoAmIAnswer =
  | { readonly ok: true; readonly source: string }
  | { readonly ok: false; readonly reason: string };
export type ProbeResult = 'connected' | 'refused' | 'timeout' | 'unreachable' | `error:${string}`;

function lastJsonLine(text: string): unknown {
  const line = text.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Starts the who-am-I server in `ns` on `address:port`; resolves once it listens. */
export async function startWhoAmIServer(ns: Namespace, address: string, port: number): Promise<BackgroundProcess> {
  const proc = ns.spawn(process.execPath, ['-e', WHOAMI_SERVER, address, String(port)]);
  await proc.waitForOutput(/"listening":/, { timeoutMs: 10_000 });
  return proc;
}

/** The source addresses the who-am-I server saw, one per connection, in order. */
export function connectionSources(server: BackgroundProcess): string[] {
  return [...server.stdout.matchAll(/\{"conn":"([^"]+)"\}/g)].map((m) => m[1] as string);
}

/** Asks the who-am-I server at `address:port` from inside `ns` which source address it sees. */
export async function askWhoAmI(
  ns: Namespace,
  address: string,
  port: number,
  timeoutMs = 3_000,
): Promise<WhoAmIAnswer> {
  const r = await ns.exec(process.execPath, ['-e', WHOAMI_CLIENT, address, String(port), String(timeoutMs)], {
    check: false,
    timeoutMs: timeoutMs + 5_000,
  });
  const parsed = lastJsonLine(r.stdout) as WhoAmIAnswer | undefined;
  return parsed ?? { ok: false, reason: `client failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-200)}` };
}

/** Starts a TCP listener in `ns` that greets and closes each connection; resolves once it listens. */
export async function startTcpListener(ns: Namespace, address: string, port: number): Promise<BackgroundProcess> {
  const proc = ns.spawn(process.execPath, ['-e', TCP_LISTENER, address, String(port)]);
  await proc.waitForOutput(/"listening":/, { timeoutMs: 10_000 });
  return proc;
}

/** Tries one TCP connection from `ns`; a silent drop shows as 'timeout', a closed port as 'refused'. */
export async function tcpProbe(ns: Namespace, address: string, port: number, timeoutMs = 1_500): Promise<ProbeResult> {
  const r = await ns.exec(process.execPath, ['-e', TCP_PROBE, address, String(port), String(timeoutMs)], {
    check: false,
    timeoutMs: timeoutMs + 5_000,
  });
  const parsed = lastJsonLine(r.stdout) as { result?: ProbeResult } | undefined;
  return parsed?.result ?? `error:exit ${r.exitCode}`;
}
