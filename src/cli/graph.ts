/**
 * `zmesh net graph FILE|NAME --store URL [--status [--networkd-socket S]] --format svg|png|dot
 * --out F`: a picture of the network (graph-dot.ts), rendered by Graphviz's dot. --status
 * colours this node's peerings by handshake age and labels them with traffic, from its networkd.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { UnixHttpClient } from '../http/client.js';
import { CliError, EXIT_FAILURE, type Invocation } from './command.js';
import { type LivePeers, networkDot } from './graph-dot.js';
import { readTarget } from './net-inspect.js';

const DOT = '/usr/bin/dot';
const FORMATS = ['svg', 'png', 'dot'] as const;
type Format = (typeof FORMATS)[number];

/** Runs dot with the graph on stdin, writing `out`; the error names dot's complaint. */
export function renderDot(source: string, format: Exclude<Format, 'dot'>, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOT, [`-T${format}`, '-o', out], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) =>
      reject(CliError.failed('--format', `cannot run ${DOT} (install graphviz): ${error.message}`)),
    );
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(CliError.failed('--out', `dot failed (${code}): ${stderr.trim().slice(0, 300)}`)),
    );
    child.stdin.end(source);
  });
}

async function livePeers(socket: string, network: string): Promise<LivePeers> {
  const client = new UnixHttpClient({ socketPath: socket, timeoutMs: 10_000 });
  try {
    const answer = await client.request('GET', `/v1/networks/${encodeURIComponent(network)}`);
    if (answer.status !== 200)
      throw CliError.failed('--status', `networkd answered ${answer.status}: ${answer.text.slice(0, 200)}`);
    const body = answer.body as { node: string; device: { peers: LivePeers['peers'] } | null };
    return { node: body.node, peers: body.device?.peers ?? [] };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError([{ field: '--networkd-socket', reason: (error as Error).message }], EXIT_FAILURE);
  } finally {
    client.close();
  }
}

export async function graphCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const format = args.strings['format'] as Format;
  if (!FORMATS.includes(format)) throw CliError.invalid('--format', `must be one of ${FORMATS.join(', ')}`);
  const out = args.strings['out'] as string;
  const socket = args.strings['networkd-socket'] ?? '/var/lib/zmesh/networkd.sock';
  if (args.strings['networkd-socket'] !== undefined && args.flags['status'] !== true)
    throw CliError.invalid('--networkd-socket', 'only applies with --status');
  const { def } = await readTarget(invocation);
  const live = args.flags['status'] === true ? await livePeers(socket, def.name) : null;
  const source = networkDot(def, live);
  if (format === 'dot') await writeFile(out, source);
  else await renderDot(source, format, out);
  io.stderr(`network ${def.name}: ${def.resources.length} NR(s) drawn to ${out}\n`);
}
