/**
 * docs/grafana-dashboard.json: every metric an expression names is one the daemons expose (read
 * from their registries, not from a list kept here), and every exposed series family is drawn.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { NetworkdMetrics } from '../../../src/networkd/metrics.js';
import { ProvisiondMetrics } from '../../../src/provisiond/metrics.js';
import { syntheticSample } from './synthetic.js';

const FUNCTIONS = new Set([
  'sum',
  'by',
  'rate',
  'increase',
  'time',
  'count',
  'histogram_quantile',
  'le',
  'on',
  'without',
  'max',
  'min',
  'avg',
]);

/** The metric names an expression uses: identifiers that are neither functions, keywords nor label names inside braces/by(). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !FUNCTIONS.has(w));
}

/** Names a PromQL expression may use for a family: the family itself and a histogram's _bucket/_sum/_count. */
async function exposedNames(): Promise<Set<string>> {
  const networkd = new NetworkdMetrics({ node: 'a', backend: 'userspace' });
  networkd.setSample(syntheticSample(1, 1));
  const provisiond = new ProvisiondMetrics(
    () => ({ pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }),
    () => null,
  );
  const names = new Set<string>();
  for (const registry of [networkd.registry, provisiond.registry]) {
    for (const family of await registry.getMetricsAsJSON()) {
      names.add(family.name);
      if (String(family.type) === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${family.name}${suffix}`);
    }
  }
  return names;
}

test('every expression of the Grafana dashboard names metrics the daemons expose, and every family is on it', async (t) => {
  const dashboard = JSON.parse(
    readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
  ) as { panels: { title: string; targets: { expr: string }[] }[] };
  const exposed = await exposedNames();
  const used = new Set<string>();
  for (const panel of dashboard.panels) {
    t.true(panel.targets.length > 0, panel.title);
    for (const { expr } of panel.targets) {
      const names = metricNames(expr);
      t.true(names.length > 0, `${panel.title}: ${expr} names no metric`);
      for (const name of names) {
        t.true(exposed.has(name), `${panel.title}: ${expr} names ${name}, which no daemon exposes`);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
  }
  const families = [...exposed].filter(
    (n) => !/_(bucket|sum|count)$/.test(n) || !exposed.has(n.replace(/_(bucket|sum|count)$/, '')),
  );
  t.deepEqual(
    families.filter((n) => !used.has(n)),
    [],
    'families no panel draws',
  );
});

test('the name reader finds metrics and skips functions, labels and ranges', (t) => {
  t.deepEqual(metricNames('sum by (instance, le) (rate(a_bucket{x="y"}[5m])) - b'), ['a_bucket', 'b']);
});
