/**
 * What the store agent reports of networkd's invitations: the redemptions the node accepted as a
 * via NR for a network, read from networkd's view (GET /v1/networks/NAME → `redemptions`, public
 * keys only) over its UNIX socket. A network networkd does not run has none.
 */
import { HttpClientError, UnixHttpClient, apiErrorOf } from '../http/client.js';
import { type Redemption, parseRedemption } from '../netdef/index.js';
import type { RedemptionReport } from '../store/values.js';

/** A local read: networkd answers views from memory, so a slow answer means it is busy or stuck. */
const VIEW_TIMEOUT_MS = 5_000;

export type RedemptionSource = (network: string) => Promise<readonly RedemptionReport[]>;

export function reportOf(redemption: Redemption): RedemptionReport {
  const { name, inviteKey, publicKey, redeemedAt } = redemption;
  return { name, inviteKey, publicKey, redeemedAt };
}

/** Reads networkd's redemptions; throws an Error saying what went wrong (unreachable, refused, malformed). */
export function networkdRedemptions(socketPath: string): { read: RedemptionSource; close: () => void } {
  const http = new UnixHttpClient({ socketPath, timeoutMs: VIEW_TIMEOUT_MS, maxSockets: 1 });
  const read = async (network: string): Promise<readonly RedemptionReport[]> => {
    let answer;
    try {
      answer = await http.request('GET', `/v1/networks/${encodeURIComponent(network)}`);
    } catch (error) {
      if (!(error instanceof HttpClientError)) throw error;
      throw new Error(`networkd is not answering at ${socketPath}: ${error.context.errno ?? error.code}`);
    }
    if (answer.status === 404) return [];
    if (answer.status !== 200)
      throw new Error(`networkd answered ${answer.status}: ${apiErrorOf(answer.body)?.message ?? 'no message'}`);
    const texts = (answer.body as { redemptions?: unknown } | null)?.redemptions ?? [];
    if (!Array.isArray(texts)) throw new Error(`networkd's view of "${network}": redemptions is not a list`);
    return texts.map((text) => {
      const redemption = parseRedemption(String(text));
      if (redemption.network !== network)
        throw new Error(`networkd's view of "${network}" holds a redemption for "${redemption.network}"`);
      return reportOf(redemption);
    });
  };
  return { read, close: () => http.close() };
}
