/**
 * The NR's address on the ndmz bridge, 100.127.X.Y/16: allocated once per network on this
 * node (lowest free), stored, and never changed while the network exists here. 100.127.0.0 is
 * the network address, 100.127.0.1 the ndmz bridge (the NRs' default gateway) and
 * 100.127.255.255 the broadcast address, so none of them is ever given out.
 */
import { formatIpv4 } from '../netdef/index.js';
import { NetworkdError } from './errors.js';

const BASE = 0x647f0000; // 100.127.0.0
export const PUBLIC_PREFIX = 16;
export const NDMZ_GATEWAY = '100.127.0.1';

export function allocatePublicAddress(taken: ReadonlySet<string>): string {
  for (let host = 2; host < 0xffff; host++) {
    const text = formatIpv4((BASE + host) >>> 0);
    if (!taken.has(text)) return text;
  }
  throw new NetworkdError('ECONFLICT', 'no free NR address left in 100.127.0.0/16 (65,533 networks on this node)');
}
