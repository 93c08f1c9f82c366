/**
 * The .conflist that attaches containers to a zmesh network through zmesh-cni: what
 * `zmesh cni conflist` prints and `zmesh cni install` writes. Pure. The `ips` capability lets a
 * runtime ask for a static address (podman run --ip).
 */
import { DEFAULT_SOCKET } from './invocation.js';
import { CURRENT_VERSION } from './spec.js';

export interface ConflistOptions {
  /** The zmesh network. */
  readonly network: string;
  /** networkd's socket (default /var/lib/zmesh/networkd.sock). */
  readonly socket?: string;
  /** The CNI network's name, what a runtime's --network names (default zmesh-<network>). */
  readonly name?: string;
}

export function conflistName(options: ConflistOptions): string {
  return options.name ?? `zmesh-${options.network}`;
}

export function conflistFor(options: ConflistOptions): object {
  return {
    cniVersion: CURRENT_VERSION,
    name: conflistName(options),
    plugins: [
      {
        type: 'zmesh-cni',
        network: options.network,
        socket: options.socket ?? DEFAULT_SOCKET,
        capabilities: { ips: true },
      },
    ],
  };
}
