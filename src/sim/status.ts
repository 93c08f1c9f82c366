// The demo's live status: per node, whether networkd and wgd run, and per NR its subnet, role,
// egress and WireGuard peers (endpoint, handshake age, bytes) as networkd reports them
// (GET /v1/networks/{name}). Formatting only; no key other than public ones is ever shown.
import type { NetworkView } from '../networkd/views.js';
import type { SimNetwork } from './network.js';
import type { SimWorld } from './world.js';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function roleText(s: NetworkView): string {
  const roles = [s.role.aggregator ? 'aggregator' : '', s.role.exit ? 'exit' : ''].filter(Boolean);
  return [s.hidden ? 'hidden' : 'public', ...roles].join(', ');
}

function age(seconds: number | null): string {
  return seconds === null ? 'never' : `${Math.round(seconds)} s ago`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The nodes table and, per network, the NRs and their peers. */
export async function statusReport(world: SimWorld, networks: readonly SimNetwork[]): Promise<string> {
  const nodeRows = world.nodes.map((n) => [
    n.id,
    n.hidden ? `hidden (NAT ${n.publicAddress})` : `public ${n.publicAddress}`,
    n.networkd ? `up, pid ${n.networkd.pid}` : 'down',
    n
      .wgdPids()
      .map((p) => `pid ${p}`)
      .join(', ') || 'none',
    n.ownedNamespaces().length.toString(),
  ]);
  const parts = [table(['node', 'uplink', 'networkd', 'wgd', 'namespaces'], nodeRows)];
  for (const net of networks) {
    const nrRows: string[][] = [];
    const peerRows: string[][] = [];
    for (const id of net.members()) {
      const node = world.node(id);
      let s: NetworkView;
      try {
        s = (await node.api.getNetwork(net.name)) as NetworkView;
      } catch (e) {
        nrRows.push([id, '?', '?', '?', `error: ${(e as Error).message.slice(0, 60)}`]);
        continue;
      }
      nrRows.push([id, s.subnet, roleText(s), s.egress, s.nrExists ? `up, port ${s.listenPort ?? '?'}` : 'missing']);
      for (const p of s.device?.peers ?? []) {
        peerRows.push([
          id,
          p.node ?? '(unknown key)',
          p.endpoint ?? '(dials in)',
          age(p.lastHandshakeAgeSeconds),
          bytes(p.rxBytes),
          bytes(p.txBytes),
        ]);
      }
    }
    parts.push(`network ${net.name} ${net.ipRange} (revision ${net.view().revision})`);
    parts.push(table(['node', 'subnet', 'role', 'egress', 'NR'], nrRows));
    parts.push(table(['node', 'peer', 'endpoint', 'handshake', 'rx', 'tx'], peerRows));
  }
  return parts.join('\n\n');
}
