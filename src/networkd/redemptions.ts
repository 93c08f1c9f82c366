/**
 * The redemptions this node accepted as a via NR, in D/networkd/redemptions/<network>.json (0600,
 * replaced atomically): written BEFORE the NR switches to the permanent key, so a crash in between
 * is finished by reconcile, and a second redemption of the same invitation is refused across
 * restarts. Kept until the admin's signed revision carries the key (then they change nothing:
 * netdef's withRedemptions) or the network leaves the node. Public keys only.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { prepareDirectory, removeFileDurably, writeFileAtomic } from '../common/atomic-file.js';
import { NetdefError, type Redemption, formatRedemption, parseRedemption } from '../netdef/index.js';
import { NetworkdError } from './errors.js';

const VERSION = 1;

export class RedemptionLog {
  readonly #dir: string;
  readonly #byNetwork = new Map<string, Redemption[]>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens (creating) `dir` and loads every file; throws naming a file that does not parse. */
  static open(dir: string): RedemptionLog {
    const log = new RedemptionLog(dir);
    prepareDirectory(dir);
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const file = join(dir, name);
      log.#byNetwork.set(name.slice(0, -'.json'.length), load(file));
    }
    return log;
  }

  of(network: string): readonly Redemption[] {
    return this.#byNetwork.get(network) ?? [];
  }

  /** Appends durably (the file is renamed into place before this resolves). */
  async add(redemption: Redemption): Promise<void> {
    const next = [...this.of(redemption.network), redemption];
    const text = `${JSON.stringify({ version: VERSION, redemptions: next.map(formatRedemption) }, null, 2)}\n`;
    await writeFileAtomic(this.#file(redemption.network), text, { mode: 0o600 });
    this.#byNetwork.set(redemption.network, next);
  }

  async forget(network: string): Promise<void> {
    if (existsSync(this.#file(network))) await removeFileDurably(this.#file(network));
    this.#byNetwork.delete(network);
  }

  #file(network: string): string {
    return join(this.#dir, `${network}.json`);
  }
}

function load(file: string): Redemption[] {
  const unusable = (reason: string) =>
    new NetworkdError('EINTERNAL', `state file ${file} is unusable: ${reason} (fix or remove it)`, { field: file });
  let record: { version?: unknown; redemptions?: unknown };
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw unusable('not JSON');
  }
  if (record.version !== VERSION || !Array.isArray(record.redemptions)) throw unusable(`not version ${VERSION}`);
  return record.redemptions.map((text, index) => {
    try {
      return parseRedemption(String(text));
    } catch (error) {
      if (error instanceof NetdefError) throw unusable(`redemptions[${index}]: ${error.message}`);
      throw error;
    }
  });
}
