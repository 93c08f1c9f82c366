/** `--metrics ADDR:PORT [--metrics-interval SECONDS]` of the daemons, parsed into their option. */
import { type MetricsAddress, MetricsAddressError, parseMetricsAddress } from '../metrics/server.js';
import { CliError } from './command.js';

/** `--metrics ADDR:PORT` alone (provisiond: nothing to sample, scrapes read memory). */
export function metricsAddressOption(address: string | undefined): { metrics?: { address: MetricsAddress } } {
  return address === undefined ? {} : { metrics: { address: parseFlag(address) } };
}

function parseFlag(address: string): MetricsAddress {
  try {
    return parseMetricsAddress(address);
  } catch (error) {
    if (error instanceof MetricsAddressError)
      throw CliError.invalid('--metrics', error.message.replace(/^--metrics: /, ''));
    throw error;
  }
}

export function metricsOption(
  address: string | undefined,
  interval: string | undefined,
): { metrics?: { address: MetricsAddress; intervalSeconds: number } } {
  if (address === undefined) {
    if (interval !== undefined) throw CliError.invalid('--metrics-interval', 'only applies with --metrics');
    return {};
  }
  const parsed = parseFlag(address);
  const text = interval ?? '10';
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds < 0.1 || seconds > 3600)
    throw CliError.invalid('--metrics-interval', 'must be a number of seconds from 0.1 to 3600');
  return { metrics: { address: parsed, intervalSeconds: seconds } };
}
