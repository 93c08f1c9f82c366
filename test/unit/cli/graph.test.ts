/**
 * `zmesh net graph`: the standard mesh (alpha and bravo public, hid1 and hid2 hidden, alpha the
 * aggregator) gives exactly its NRs, the WireGuard peerings the nodes configure, and the hidden
 * NRs' relayed paths; the SVG Graphviz renders through the tool names every NR.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { networkDot } from '../../../src/cli/graph-dot.js';
import { setExit } from '../../../src/netdef/index.js';
import { buildNetwork, initKeys, makeNode } from '../netdef/fixtures.js';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

function standardMesh() {
  return buildNetwork(
    'demo',
    '10.1.0.0/16',
    [makeNode('alpha', false), makeNode('bravo', false), makeNode('hid1', true), makeNode('hid2', true)],
    'alpha',
  );
}

/** The graph's nodes and edges (`a -- b` or `a -- b (style)`), read from the DOT text. */
function shape(dot: string): { nodes: string[]; edges: string[] } {
  const nodes = [...dot.matchAll(/^ {2}"([^"]+)" \[/gm)].map((m) => m[1]!);
  const edges = [...dot.matchAll(/^ {2}"([^"]+)" -- "([^"]+)"(?: \[([^\]]*)\])?;$/gm)].map(
    (m) => `${m[1]} -- ${m[2]}${/style=dotted/.test(m[3] ?? '') ? ' (relayed)' : ''}`,
  );
  return { nodes, edges };
}

test.before(initKeys);

test('the standard mesh: four NRs, the aggregator peers with everyone, hidden NRs reach the others through it', (t) => {
  const dot = networkDot(standardMesh());
  t.deepEqual(shape(dot), {
    nodes: ['alpha', 'bravo', 'hid1', 'hid2'],
    edges: [
      'alpha -- bravo',
      'alpha -- hid1',
      'alpha -- hid2',
      'hid1 -- bravo (relayed)',
      'hid1 -- hid2 (relayed)',
      'hid2 -- bravo (relayed)',
    ],
  });
  t.regex(dot, /"alpha" \[label="alpha\\n10\.1\.\d+\.0\/24\\naggregator, public", shape=box, color=blue/);
  t.regex(dot, /"hid1" \[label="hid1\\n10\.1\.\d+\.0\/24\\nhidden", shape=ellipse, style=dashed\]/);
});

test("an exit draws its way to the Internet; live status colours and labels the node's own peerings", (t) => {
  const def = setExit(standardMesh(), 'bravo');
  const dot = networkDot(def, {
    node: 'alpha',
    peers: [
      { node: 'bravo', lastHandshakeAgeSeconds: 20, rxBytes: 2048, txBytes: 10 },
      { node: 'hid1', lastHandshakeAgeSeconds: 400, rxBytes: 0, txBytes: 0 },
      { node: 'hid2', lastHandshakeAgeSeconds: null, rxBytes: 0, txBytes: 0 },
    ],
  });
  t.true(dot.includes('"bravo" -- "internet" [style=bold, label="exit"];'));
  t.true(dot.includes('"alpha" -- "bravo" [color=darkgreen, label="hs 20s\\nrx 2.0 KiB tx 10 B"];'));
  t.true(dot.includes('"alpha" -- "hid1" [color=red'));
  t.true(dot.includes('"alpha" -- "hid2" [color=gray'));
});

test('zmesh net graph renders an SVG with Graphviz and writes the DOT source; a bad format changes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zmesh-graph-'));
  try {
    const file = join(dir, 'demo.json');
    await writeFile(file, JSON.stringify(standardMesh()));
    const svg = await execa(
      'node',
      ['--import', tsx, main, 'net', 'graph', file, '--format', 'svg', '--out', join(dir, 'demo.svg')],
      { reject: false },
    );
    t.is(svg.exitCode, 0, svg.stderr);
    const text = await readFile(join(dir, 'demo.svg'), 'utf8');
    t.true(text.startsWith('<?xml'), text.slice(0, 100));
    for (const node of ['alpha', 'bravo', 'hid1', 'hid2']) t.true(text.includes(`<title>${node}</title>`), node);
    t.is((text.match(/class="edge"/g) ?? []).length, 6);
    const dot = await execa(
      'node',
      ['--import', tsx, main, 'net', 'graph', file, '--format', 'dot', '--out', join(dir, 'demo.dot')],
      { reject: false },
    );
    t.is(dot.exitCode, 0, dot.stderr);
    t.is(await readFile(join(dir, 'demo.dot'), 'utf8'), networkDot(JSON.parse(await readFile(file, 'utf8'))));
    const bad = await execa(
      'node',
      ['--import', tsx, main, 'net', 'graph', file, '--format', 'gif', '--out', join(dir, 'x.gif')],
      { reject: false },
    );
    t.is(bad.exitCode, 2);
    t.regex(bad.stderr, /--format: must be one of svg, png, dot/);
    await t.throwsAsync(readFile(join(dir, 'x.gif')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
