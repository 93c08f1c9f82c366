/**
 * `zmesh net status NAME --store etcd://… [--wait [--timeout S]]`: the rollout of a network
 * across its nodes (src/store/rollout.ts). --wait polls until every alive member has applied the
 * current revision, and at least one member is alive (exit 0), or the timeout passes (exit 1,
 * naming the laggards). A member whose agent is down does not hold the rollout up; a fleet with
 * none up confirms nothing.
 */

import { EtcdStore } from '../store/index.js';
import { readRollout, type Rollout } from '../store/rollout.js';
import { CliError, EXIT_FAILURE, type Invocation } from './command.js';
import { resolveTarget, withTarget } from './store-target.js';
import { formatTable } from './table.js';

const POLL_MS = 250;

function table(rollout: Rollout, now: number): string {
  const rows = rollout.nodes.map((n) => [
    n.node,
    n.alive ? `yes (since ${Math.round((now - Date.parse(n.alive.since)) / 1000)} s)` : 'no',
    n.status ? String(n.status.revision) : '-',
    n.status?.state ?? '-',
    n.status?.error ?? '',
  ]);
  return formatTable(['NODE', 'ALIVE', 'APPLIED', 'STATE', 'ERROR'], rows);
}

function timeoutOption(text: string | undefined): number {
  if (text === undefined) return 120;
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1)
    throw CliError.invalid('--timeout', 'must be a number of seconds from 1 to 99999');
  return Number(text);
}

export async function statusCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const timeoutS = timeoutOption(args.strings['timeout']);
  const target = resolveTarget(invocation);
  if (target.kind !== 'store' || !(target.store instanceof EtcdStore)) {
    if (target.kind === 'store') await target.store.close();
    throw CliError.invalid('--store', 'net status reads what the nodes reported: give an etcd://… store');
  }
  const store = target.store;
  await withTarget(target, async () => {
    const deadline = Date.now() + timeoutS * 1000;
    let rollout = await readRollout(store, target.name);
    let lastLine = '';
    while (args.flags['wait'] === true && !rollout.done) {
      if (Date.now() > deadline) {
        io.stdout(
          `network ${rollout.network} revision ${rollout.revision}\n${table(rollout, Date.now())}\n${rollout.summary}\n`,
        );
        throw new CliError(
          [
            {
              field: 'NAME',
              reason: rollout.noneAlive
                ? `timed out after ${timeoutS} s: no member of the network is alive, so none confirmed revision ${rollout.revision}`
                : `timed out after ${timeoutS} s waiting for ${rollout.laggards.join(', ')} to apply revision ${rollout.revision}`,
            },
          ],
          EXIT_FAILURE,
        );
      }
      // A progress line when who is at the revision changes (not for every passing second).
      const shape = `${rollout.revision} ${rollout.laggards.join(',')}`;
      if (shape !== lastLine) {
        lastLine = shape;
        io.stderr(`waiting: ${rollout.summary}\n`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      rollout = await readRollout(store, target.name);
    }
    io.stdout(
      `network ${rollout.network} revision ${rollout.revision}\n${table(rollout, Date.now())}\n${rollout.summary}\n`,
    );
  });
}
