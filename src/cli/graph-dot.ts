/**
 * A network definition as a Graphviz graph (the DOT language): one node per NR (public: box,
 * hidden: dashed ellipse; the aggregator and the exit are named and coloured), one edge per
 * WireGuard peering as derived for the nodes (netdef's resourceFor, so the picture is what the
 * nodes configure), hidden NRs' relayed paths through the aggregator as dotted edges, and the
 * exit's way to the Internet. With a node's live status, that node's peerings are coloured by
 * handshake age and labelled with their traffic.
 */
import { type NetworkDefinition, aggregatorsOf, resourceFor } from '../netdef/index.js';
import { STALE_HANDSHAKE_SECONDS, age, bytes } from './status-view.js';

/** One node's view of its peers (GET /v1/networks/NAME of its networkd). */
export interface LivePeers {
  readonly node: string;
  readonly peers: readonly {
    readonly node: string | null;
    readonly lastHandshakeAgeSeconds: number | null;
    readonly rxBytes: number;
    readonly txBytes: number;
  }[];
}

/** A DOT string: quotes and backslashes escaped, line breaks as DOT's \n (centred lines). */
const quote = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

function edgeKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** The WireGuard peerings of the definition, each once, in definition order. */
export function peerings(def: NetworkDefinition): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const r of def.resources) {
    for (const peer of resourceFor(def, r.node).peers) {
      const key = edgeKey(r.node, peer.node);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push([r.node, peer.node]);
    }
  }
  return out;
}

export function networkDot(def: NetworkDefinition, live: LivePeers | null = null): string {
  const lines = [
    `graph ${quote(def.name)} {`,
    `  label=${quote(`network ${def.name}  ${def.ipRange}  revision ${def.revision}`)};`,
    '  labelloc=t;',
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  const aggregators = aggregatorsOf(def);
  const preferred = aggregators[0];
  for (const r of def.resources) {
    const rank = aggregators.indexOf(r.node);
    const roles = [
      rank === 0 ? 'aggregator' : rank > 0 ? `aggregator ${rank + 1}` : '',
      def.exit === r.node ? 'exit' : '',
      r.hidden ? 'hidden' : 'public',
    ].filter(Boolean);
    const attributes = [
      `label=${quote(`${r.node}\n${r.subnet}\n${roles.join(', ')}`)}`,
      r.hidden ? 'shape=ellipse, style=dashed' : 'shape=box',
      rank === 0 ? 'color=blue, penwidth=2' : rank > 0 ? 'color=blue' : '',
      def.exit === r.node ? 'peripheries=2' : '',
    ].filter(Boolean);
    lines.push(`  ${quote(r.node)} [${attributes.join(', ')}];`);
  }
  const livePeers = new Map((live?.peers ?? []).filter((p) => p.node !== null).map((p) => [p.node as string, p]));
  for (const [a, b] of peerings(def)) {
    const attributes: string[] = [];
    const peer = live && (a === live.node ? livePeers.get(b) : b === live.node ? livePeers.get(a) : undefined);
    if (peer) {
      const seconds = peer.lastHandshakeAgeSeconds;
      attributes.push(`color=${seconds === null ? 'gray' : seconds < STALE_HANDSHAKE_SECONDS ? 'darkgreen' : 'red'}`);
      attributes.push(`label=${quote(`hs ${age(seconds)}\nrx ${bytes(peer.rxBytes)} tx ${bytes(peer.txBytes)}`)}`);
    }
    lines.push(`  ${quote(a)} -- ${quote(b)}${attributes.length ? ` [${attributes.join(', ')}]` : ''};`);
  }
  // Hidden NRs reach every other NR through the (preferred) aggregator: drawn, not configured as peerings.
  if (preferred !== undefined) {
    for (const h of def.resources.filter((r) => r.hidden)) {
      for (const other of def.resources) {
        if (other === h || aggregators.includes(other.node) || (other.hidden && other.node < h.node)) continue;
        lines.push(
          `  ${quote(h.node)} -- ${quote(other.node)} [style=dotted, color=gray40, constraint=false, label=${quote(`via ${preferred}`)}];`,
        );
      }
    }
  }
  if (def.exit !== undefined) {
    lines.push('  "internet" [label="Internet", shape=plaintext];');
    lines.push(`  ${quote(def.exit)} -- "internet" [style=bold, label="exit"];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
