/**
 * Invitations on the admin's command line (netdef/invitations.ts; the peer's side is peer.ts):
 * - `zmesh net invite FILE --name N --via NODE [--address A] [--expires 24h]`: records the
 *   pending peer and prints the invitation on stdout, the one place a secret is printed;
 * - `zmesh net redeem FILE --redemption R`: records the permanent key the via node reported
 *   (`zmesh-redeem-v2.…`, from its networkd: GET /v1/networks/NAME's `redemptions`);
 * - `zmesh net revoke FILE --name N`: removes the peer, pending or redeemed.
 * An invitation or redemption argument is a file, `-` for stdin, or the text itself.
 */

import { InvitationError, acceptRedemption, invite, ready, revokeExternalPeer } from '../netdef/index.js';
import { CliError, type Invocation } from './command.js';
import { edit } from './net-edit.js';
import { readTextFile } from './files.js';

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
  const text = await tokenText(
    invocation.args.strings['redemption'] as string,
    '--redemption',
    'zmesh-redeem-v2.',
    invocation,
  );
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
