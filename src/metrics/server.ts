/**
 * The `/metrics` endpoint networkd and provisiond share: a plain HTTP listener on the address
 * `--metrics ADDR:PORT` names (off unless given), answering GET /metrics with a prom-client
 * registry's text exposition and nothing else. The registry's collect hooks read what the daemon
 * already keeps in memory, so a scrape costs no kernel or socket round trip.
 */
import http from 'node:http';
import { isIP } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
}

/** Thrown for a malformed `--metrics` value; the message names the flag and why. */
export class MetricsAddressError extends Error {}

/** `127.0.0.1:9464`, `[::1]:9464`: a numeric address (no name lookup) and a port 0-65535 (0: any free port). */
export function parseMetricsAddress(text: string, flag = '--metrics'): MetricsAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const host = match ? (match[1] ?? match[2] ?? '') : '';
  const port = match ? Number(match[3]) : 0;
  if (!match || isIP(host) === 0)
    throw new MetricsAddressError(
      `${flag}: expected ADDR:PORT with a numeric address (e.g. 127.0.0.1:9464 or [::1]:9464), got ${JSON.stringify(text.slice(0, 80))}`,
    );
  if (port > 65_535) throw new MetricsAddressError(`${flag}: port ${port} is not from 0 (any free port) to 65535`);
  return { host, port };
}

export class MetricsServer {
  readonly #server: http.Server;
  readonly address: MetricsAddress;

  private constructor(server: http.Server, address: MetricsAddress) {
    this.#server = server;
    this.address = address;
  }

  static async listen(
    registry: Registry,
    address: MetricsAddress,
    log: (message: string) => void,
  ): Promise<MetricsServer> {
    const server = http.createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response
          .writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' })
          .end('only GET /metrics\n');
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => {
          log(`metrics: collecting failed: ${(error as Error).message}`);
          response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting failed\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    return new MetricsServer(server, { host: address.host, port });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
