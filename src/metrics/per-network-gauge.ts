/**
 * A gauge with one series per network, filled at each scrape from what the daemon keeps in memory
 * (networkd's sample, provisiond's store agent). Reset first, so a network that left the node
 * leaves the exposition too.
 */
import { Gauge, type Registry } from 'prom-client';

export function perNetworkGauge<R extends { readonly network: string }>(
  registry: Registry,
  name: string,
  help: string,
  rows: () => Iterable<R>,
  value: (row: R) => number,
): Gauge<'network'> {
  return new Gauge({
    name,
    help,
    labelNames: ['network'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of rows()) this.set({ network: row.network }, value(row));
    },
  });
}
