/**
 * Invitations on the admin's command line (netdef/invitations.ts; the peer's side is peer.ts):
 * - `zmesh net invite FILE --name N --via NODE [--address A] [--expires 24h]`: records the
 *   pending peer and prints the invitation on stdout, the one place a secret is printed;
 * - `zmesh net redeem FILE --redemption R`: records the permanent key the via node reported
 *   (`zmesh-redeem-v2.…`, from its networkd: GET /v1/networks/NAME's `redemptions`);
 *   `zmesh net redeem NAME --store etcd://…` without --redemption folds in every redemption the
 *   via nodes' agents reported in their status keys, in one signed compare-and-swap edit;
 * - `zmesh net revoke FILE --name N`: removes the peer, pending or redeemed.
 * An invitation or redemption argument is a file, `-` for stdin, or the text itself.
 */

import {
  InvitationError,
  type RedemptionFold,
  acceptRedemption,
  foldRedemptions,
  invite,
  ready,
  revokeExternalPeer,
} from '../netdef/index.js';
import { EtcdStore, readRedemptionReports, type RedemptionReports } from '../store/index.js';
import { CliError, type Invocation } from './command.js';
import { edit } from './net-edit.js';
import { readTextFile } from './files.js';
import { resolveTarget, withTarget } from './store-target.js';

const MAX_EXPIRY_HOURS = 24 * 90;

/** `30s`, `30m`, `24h`, `7d` → milliseconds (at most 90 days). */
export function parseDuration(text: string, field: string): number {
  const match = /^([0-9]{1,7})([smhd])$/.exec(text);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const ms = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : NaN;
  if (!(ms > 0) || ms > MAX_EXPIRY_HOURS * 3_600_000)
    throw CliError.invalid(field, `"${text}" is not a duration like 30m, 24h or 7d (at most 90d)`);
  return ms;
}

/** The text of INVITATION/REDEMPTION: a token itself, `-` (stdin) or a file holding it. */
export async function tokenText(value: string, field: string, prefix: string, invocation: Invocation): Promise<string> {
  // Any version of the token is text (its parser names a version it does not read), not a file.
  if (value.startsWith(prefix.replace(/v[0-9]+\.$/, ''))) return value;
  if (value === '-') return invocation.io.readStdin();
  return readTextFile(value, field);
}

function invitationError(error: unknown, field: string): unknown {
  return error instanceof InvitationError ? CliError.invalid(field, error.message) : error;
}

export async function inviteCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const name = args.strings['name'] as string;
  const via = args.strings['via'] as string;
  const address = args.strings['address'];
  const expires = new Date(Date.now() + parseDuration(args.strings['expires'] ?? '24h', '--expires'));
  await ready();
  let invitation = '';
  const next = await edit(
    invocation,
    (def) => {
      try {
        const made = invite(def, { name, via, expires, ...(address !== undefined ? { address } : {}) });
        invitation = made.invitation;
        return made.def;
      } catch (error) {
        throw invitationError(error, '--address');
      }
    },
    (def) => {
      const index = (def.externalPeers ?? []).length;
      return {
        [`/externalPeers/${index}/name`]: '--name',
        [`/externalPeers/${index}/via`]: '--via',
        [`/externalPeers/${index}/address`]: '--address',
      };
    },
  );
  const peer = next.externalPeers?.find((p) => p.name === name);
  io.stderr(
    `invited "${name}" at ${peer?.address} through ${via}, until ${peer?.expires}; revision ${next.revision}\n`,
  );
  io.stderr('the invitation below holds a secret: give it to the peer only, over a private channel\n');
  io.stdout(`${invitation}\n`);
}

export async function acceptRedemptionCommand(invocation: Invocation): Promise<void> {
  const given = invocation.args.strings['redemption'];
  if (given === undefined) return foldReportedCommand(invocation);
  const text = await tokenText(given, '--redemption', 'zmesh-redeem-v2.', invocation);
  await ready();
  let name = '';
  const next = await edit(invocation, (def) => {
    try {
      const accepted = acceptRedemption(def, text);
      name = accepted.externalPeers?.find((p, i) => p.publicKey !== def.externalPeers?.[i]?.publicKey)?.name ?? '';
      return accepted;
    } catch (error) {
      throw invitationError(error, '--redemption');
    }
  });
  invocation.io.stdout(`redeemed "${name}": its own key replaces the invitation; revision ${next.revision}\n`);
}

export async function revokeCommand(invocation: Invocation): Promise<void> {
  const name = invocation.args.strings['name'] as string;
  const next = await edit(invocation, (def) => {
    try {
      return revokeExternalPeer(def, name);
    } catch (error) {
      throw invitationError(error, '--name');
    }
  });
  invocation.io.stdout(
    `revoked "${name}": its invitation can no longer be redeemed and its key is no longer a peer; revision ${next.revision}\n`,
  );
}

/** What the via nodes reported in the store: a FILE or a file: store has no agents, so nothing to read. */
async function reportsOf(invocation: Invocation): Promise<RedemptionReports> {
  const target = resolveTarget(invocation);
  if (target.kind !== 'store' || !(target.store instanceof EtcdStore)) {
    if (target.kind === 'store') await target.store.close();
    throw CliError.invalid(
      '--redemption',
      "required unless --store names an etcd://… store (where the via nodes' agents report redemptions)",
    );
  }
  const store = target.store;
  return withTarget(target, () => readRedemptionReports(store, target.name));
}

/** `net redeem NAME --store etcd://…`: every reported redemption folded in at once; refusals said per invitation. */
async function foldReportedCommand(invocation: Invocation): Promise<void> {
  const { io } = invocation;
  const { reports, bad } = await reportsOf(invocation);
  for (const error of bad) io.stderr(`skipped a node's report: ${error.message}\n`);
  await ready();
  let fold: RedemptionFold | null = null;
  // Nothing new: the edit would only bump the revision, so the store is left as it is.
  const nothing = new Error('nothing to fold');
  let next = null;
  try {
    next = await edit(invocation, (def) => {
      fold = foldRedemptions(def, reports);
      if (fold.accepted.length === 0) throw nothing;
      return fold.def;
    });
  } catch (error) {
    if (error !== nothing) throw error;
  }
  const done = fold as RedemptionFold | null;
  for (const r of done?.refused ?? [])
    io.stdout(`refused "${r.redemption.name}" (reported by ${r.node}): ${r.reason}\n`);
  for (const r of done?.accepted ?? [])
    io.stdout(`redeemed "${r.redemption.name}" (reported by ${r.node}): its own key replaces the invitation\n`);
  const recorded = done?.recorded.length ?? 0;
  io.stdout(
    next
      ? `revision ${next.revision}${recorded ? `; ${recorded} already recorded` : ''}\n`
      : `nothing new to record (${reports.length} reported, ${recorded} already recorded)\n`,
  );
}
