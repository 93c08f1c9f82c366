// A normalised dump of everything networkd built on one simulated node, for "converges to
// exactly the same state" comparisons: per namespace (the host's and every one networkd owns)
// the links, addresses and routes as `ip -j` reports them and zmesh's nft tables as `nft -j`
// reports them, plus each WireGuard device's configuration read over its UAPI socket. What
// legitimately differs between two equal states is dropped: interface indexes, MAC addresses
// and IPv6 link-local addresses (random per veth), nft handles, handshake times and byte
// counters. The device's private key is never read into the dump.
import { createConnection } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './harness/command.js';
import { systemTool } from './harness/system-tools.js';
import type { SimNode } from './node.js';

type Json = Record<string, unknown>;

async function ipJson(netns: string, args: readonly string[]): Promise<Json[]> {
  const r = await runCommand(systemTool('ip'), ['-n', netns, '-j', ...args]);
  return JSON.parse(r.stdout || '[]') as Json[];
}

function sortKey(v: unknown): string {
  return JSON.stringify(v);
}

async function links(netns: string): Promise<unknown[]> {
  const raw = await ipJson(netns, ['-d', 'link', 'show']);
  return raw
    .map((l) => ({
      ifname: l.ifname,
      mtu: l.mtu,
      up: ((l.flags as string[] | undefined) ?? []).includes('UP'),
      master: l.master ?? null,
      kind: (l.linkinfo as Json | undefined)?.info_kind ?? l.link_type,
    }))
    .sort((a, b) => sortKey(a.ifname).localeCompare(sortKey(b.ifname)));
}

async function addresses(netns: string): Promise<string[]> {
  const raw = await ipJson(netns, ['addr', 'show']);
  return raw
    .flatMap((l) =>
      ((l.addr_info as Json[] | undefined) ?? [])
        .filter((a) => !(a.family === 'inet6' && a.scope === 'link'))
        .map((a) => `${String(l.ifname)} ${String(a.local)}/${String(a.prefixlen)}`),
    )
    .sort();
}

async function routes(netns: string): Promise<string[]> {
  const raw = await ipJson(netns, ['route', 'show', 'table', 'all']);
  return raw
    .filter((r) => r.type !== 'local' && r.type !== 'broadcast' && r.table !== 'local')
    .map((r) =>
      [
        r.table ?? 'main',
        r.dst,
        r.gateway ? `via ${String(r.gateway)}` : '',
        `dev ${String(r.dev)}`,
        r.prefsrc ? `src ${String(r.prefsrc)}` : '',
        r.scope ?? '',
      ]
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .sort();
}

function stripVolatile(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripVolatile);
  if (v && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === 'handle' || k === 'metainfo') continue;
      if (k === 'counter') {
        out[k] = 'counter';
        continue;
      }
      out[k] = stripVolatile(x);
    }
    return out;
  }
  return v;
}

/** zmesh's nft tables in the namespace (names containing "zmesh"), without handles or counters. */
async function nftTables(netns: string): Promise<unknown[]> {
  const list = await runCommand(systemTool('ip'), ['netns', 'exec', netns, systemTool('nft'), '-j', 'list', 'tables']);
  const tables = ((JSON.parse(list.stdout) as { nftables: Json[] }).nftables ?? [])
    .map((e) => e.table as Json | undefined)
    .filter((t): t is Json => t !== undefined && String(t.name).includes('zmesh'));
  const out: unknown[] = [];
  for (const t of tables) {
    const r = await runCommand(systemTool('ip'), [
      'netns',
      'exec',
      netns,
      systemTool('nft'),
      '-j',
      'list',
      'table',
      String(t.family),
      String(t.name),
    ]);
    out.push(stripVolatile((JSON.parse(r.stdout) as { nftables: unknown[] }).nftables));
  }
  return out;
}

/** `get=1` over a UAPI socket, minus the private key, handshake times and counters; peers sorted. */
export function uapiConfig(socketPath: string, timeoutMs = 5_000): Promise<{ device: string[]; peers: string[][] }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let text = '';
    const timer = setTimeout(
      () => sock.destroy(new Error(`no UAPI answer from ${socketPath} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('get=1\n\n'));
    sock.on('data', (d: string) => {
      text += d;
      if (text.endsWith('\n\n')) sock.end();
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const device: string[] = [];
      const peers: string[][] = [];
      for (const line of text.split('\n')) {
        if (!line) continue;
        const key = line.slice(0, line.indexOf('='));
        if (
          [
            'private_key',
            'last_handshake_time_sec',
            'last_handshake_time_nsec',
            'tx_bytes',
            'rx_bytes',
            'errno',
          ].includes(key)
        )
          continue;
        if (key === 'public_key') peers.push([line]);
        else if (peers.length > 0) (peers[peers.length - 1] as string[]).push(line);
        else device.push(line);
      }
      resolve({
        device,
        peers: peers
          .map((p) => [p[0] as string, ...p.slice(1).sort()])
          .sort((a, b) => (a[0] as string).localeCompare(b[0] as string)),
      });
    });
  });
}

/** The UAPI sockets of this node's wgd devices (networkd puts them in D/networkd/wireguard with a prefix). */
export function uapiSockets(node: SimNode): string[] {
  const dir = join(node.stateDir, 'networkd', 'wireguard');
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.sock'))
      .map((f) => join(dir, f))
      .sort();
  } catch {
    return [];
  }
}

export interface NodeDump {
  readonly namespaces: Record<string, { links: unknown[]; addresses: string[]; routes: string[]; nft: unknown[] }>;
  readonly wireguard: Record<string, { device: string[]; peers: string[][] }>;
}

/** Everything networkd built on `node`, normalised (namespace names shown without the node's prefix). */
export async function dumpNode(node: SimNode): Promise<NodeDump> {
  const namespaces: NodeDump['namespaces'] = {};
  for (const ns of [node.host.name, ...node.ownedNamespaces()].sort()) {
    const key = ns === node.host.name ? 'host' : ns.slice(node.prefix.length);
    namespaces[key] = {
      links: await links(ns),
      addresses: await addresses(ns),
      routes: await routes(ns),
      nft: await nftTables(ns),
    };
  }
  const wireguard: NodeDump['wireguard'] = {};
  for (const sock of uapiSockets(node)) wireguard[sock.slice(sock.lastIndexOf('/') + 1)] = await uapiConfig(sock);
  return { namespaces, wireguard };
}
