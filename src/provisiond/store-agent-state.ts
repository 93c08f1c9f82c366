/**
 * The store agent's rows in provisiond's database (migration 4): the saved watch revision and,
 * per network, the revision last enqueued and whether as apply or delete. Written only inside
 * the queue's transaction that also inserts the tasks (see StoreAgent.#commit).
 */
import type { Db } from './database.js';
import type { KnownNetwork, Remembered } from './store-agent-core.js';

export class StoreAgentState {
  readonly #statements;

  constructor(db: Db) {
    this.#statements = {
      cursor: db.prepare<[], { revision: number }>('SELECT revision FROM store_cursor WHERE id = 1'),
      saveCursor: db.prepare(
        'INSERT INTO store_cursor (id, revision) VALUES (1, @revision) ON CONFLICT (id) DO UPDATE SET revision = @revision',
      ),
      networks: db.prepare<[], { network: string; revision: number; member: number }>(
        'SELECT network, revision, member FROM store_networks',
      ),
      remember: db.prepare(
        `INSERT INTO store_networks (network, revision, member) VALUES (@network, @revision, @member)
         ON CONFLICT (network) DO UPDATE SET revision = @revision, member = @member`,
      ),
    };
  }

  cursor(): number {
    return this.#statements.cursor.get()?.revision ?? 0;
  }

  known(): Map<string, KnownNetwork> {
    return new Map(
      this.#statements.networks.all().map((r) => [r.network, { revision: r.revision, member: r.member === 1 }]),
    );
  }

  /** Runs inside the caller's transaction. */
  save(cursor: number, remembered: readonly Remembered[]): void {
    this.#statements.saveCursor.run({ revision: cursor });
    for (const r of remembered)
      this.#statements.remember.run({ network: r.network, revision: r.revision, member: r.member ? 1 : 0 });
  }
}
