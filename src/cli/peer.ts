/**
 * `zmesh peer redeem INVITE [--interface NAME] [--config-dir DIR]` on the invited peer (root):
 *
 * 1. brings NAME up with the invitation's temporary key, peering only with the via NR (routes:
 *    the network's range and the via NR's WireGuard address);
 * 2. generates the peer's permanent key pair here (the private half never leaves this machine)
 *    and POSTs the public half to the via NR's enrolment endpoint through that tunnel;
 * 3. once accepted: writes DIR/NAME.conf (0600, wg-quick) with the permanent key, switches the
 *    interface to it and waits for the via NR's handshake with the new key.
 * A refusal, or no answer, removes the interface and writes nothing. Without an answer the
 * device itself tells why: no handshake at all means the via NR does not know the temporary key
 * (revoked, or unreachable); a handshake without an answer means it knows the key but lets it
 * reach nothing any more (already redeemed).
 */
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  type Invitation,
  type KeyPair,
  NetdefError,
  generateKeyPair,
  parseInvitation,
  ready,
  temporaryKeyOf,
  wgQuickConfig,
} from '../netdef/index.js';
import type { WgDesiredConfig } from '../nr/index.js';
import { CliError, type CommandGroup, type Invocation } from './command.js';
import { fileExists, writeToolFile } from './files.js';
import { tokenText } from './invite.js';
import {
  type PeerDevice,
  bringUp,
  createPeerDevice,
  linkExists,
  removePeerDevice,
  removeRoute,
} from './peer-device.js';

const DEFAULT_INTERFACE = 'zmesh0';
const DEFAULT_CONFIG_DIR = '/etc/wireguard';
const DEFAULT_WAIT_SECONDS = 30;
const KEEPALIVE_SECONDS = 25;
const ATTEMPT_TIMEOUT_MS = 3_000;

type Answer = { status: number; body: { redeemed?: unknown; error?: { code?: string; message?: string } } };

/** One POST to the enrolment endpoint; null when nothing answered within the attempt's time. */
function postOnce(invitation: Invitation, publicKey: string): Promise<Answer | null> {
  const payload = JSON.stringify({ publicKey });
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: invitation.viaWgAddress,
        port: invitation.enrolmentPort,
        path: '/v1/redeem',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: ATTEMPT_TIMEOUT_MS,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (text.length < 8192) text += chunk;
        });
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: response.statusCode ?? 0, body: {} });
          }
        });
        response.on('error', () => resolve(null));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(null));
    request.end(payload);
  });
}

async function submitKey(invitation: Invitation, publicKey: string, deadline: number): Promise<Answer | null> {
  while (Date.now() < deadline) {
    const started = Date.now();
    const answer = await postOnce(invitation, publicKey);
    if (answer) return answer;
    // A refused connection answers at once: pace the attempts.
    const rest = 500 - (Date.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  return null;
}

async function numericEndpoint(endpoint: string): Promise<string> {
  const match = /^(.*):([0-9]{1,5})$/.exec(endpoint);
  if (!match) throw CliError.invalid('INVITE', `the via NR's endpoint "${endpoint}" is not HOST:PORT`);
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) return endpoint;
  try {
    const { address, family } = await lookup(host);
    return family === 6 ? `[${address}]:${match[2]}` : `${address}:${match[2]}`;
  } catch {
    throw CliError.failed('INVITE', `the via NR's endpoint host "${host}" does not resolve`);
  }
}

async function viaHandshake(device: PeerDevice, invitation: Invitation): Promise<number | null> {
  const status = await device.status().catch(() => null);
  return status?.peers.find((p) => p.publicKey === invitation.viaPublicKey)?.lastHandshake ?? null;
}

function deviceConfig(
  privateKey: WgDesiredConfig['privateKey'],
  publicKey: string,
  listenPort: number,
  invitation: Invitation,
  endpoint: string,
  allowedIps: string[],
): WgDesiredConfig {
  return {
    privateKey,
    publicKey,
    listenPort,
    peers: [{ publicKey: invitation.viaPublicKey, endpoint, allowedIps, persistentKeepalive: KEEPALIVE_SECONDS }],
  };
}

/** Any packet into the tunnel makes WireGuard start a handshake; this one needs no answer. */
async function nudge(invitation: Invitation): Promise<void> {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  const target = invitation.ipRange.split('/')[0]!.replace(/\.0$/, '.1');
  await new Promise<void>((resolve) => socket.send(Buffer.from('zmesh'), 9, target, () => resolve()));
  socket.close();
}

async function redeemCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const name = args.strings['interface'] ?? DEFAULT_INTERFACE;
  if (!/^[A-Za-z0-9_=+.-]{1,15}$/.test(name))
    throw CliError.invalid('--interface', `"${name}" is not an interface name (1-15 of A-Z a-z 0-9 _=+.-)`);
  const configPath = join(args.strings['config-dir'] ?? DEFAULT_CONFIG_DIR, `${name}.conf`);
  if (args.flags['force'] !== true && (await fileExists(configPath)))
    throw CliError.invalid('--interface', `${configPath} already exists (use --force to replace it)`);
  const waitText = args.strings['wait'] ?? String(DEFAULT_WAIT_SECONDS);
  const waitSeconds = Number(waitText);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 600)
    throw CliError.invalid('--wait', `"${waitText}" is not a number of seconds from 1 to 600`);
  const text = await tokenText(args.positionals['INVITE'] as string, 'INVITE', 'zmesh-invite-v2.', invocation);
  await ready();
  let invitation: Invitation;
  try {
    invitation = parseInvitation(text);
  } catch (error) {
    if (error instanceof NetdefError) throw CliError.invalid('INVITE', error.message);
    throw error;
  }
  // Never touch an interface this command did not make (a failure below deletes NAME).
  if (await linkExists(name))
    throw CliError.invalid('--interface', `an interface named ${name} exists already (remove it or choose another)`);
  const endpoint = await numericEndpoint(invitation.viaEndpoint);
  const permanent: KeyPair = generateKeyPair();
  let device: PeerDevice;
  try {
    device = await createPeerDevice(name, args.flags['userspace'] === true);
  } catch (error) {
    await removePeerDevice(name);
    throw CliError.failed('--interface', `cannot create WireGuard interface ${name}: ${(error as Error).message}`);
  }
  try {
    const listenPort = (await device.status())?.listenPort ?? 0;
    const enrolmentRoute = `${invitation.viaWgAddress}/32`;
    await device.configure(
      deviceConfig(temporaryKeyOf(invitation), invitation.inviteKey, listenPort, invitation, endpoint, [
        invitation.ipRange,
        enrolmentRoute,
      ]),
    );
    await bringUp(name, invitation.address, [invitation.ipRange, enrolmentRoute]);
    io.stderr(`${name} up (${device.kind} WireGuard) with the invitation's key; asking ${invitation.via} to enrol\n`);
    const answer = await submitKey(invitation, permanent.publicKey, Date.now() + waitSeconds * 1000);
    if (answer === null) {
      const handshake = await viaHandshake(device, invitation);
      throw CliError.failed(
        'INVITE',
        handshake !== null
          ? `${invitation.via} knows the invitation's key but lets nothing through it: the invitation was already redeemed`
          : `${invitation.via} (${invitation.viaEndpoint}) never answered the invitation's key within ${waitSeconds} s: ` +
              'the invitation was revoked, is not applied on the via node yet, or the endpoint is unreachable',
      );
    }
    if (answer.status !== 200 || answer.body.redeemed === undefined) {
      const message = answer.body.error?.message ?? `HTTP ${answer.status}`;
      throw CliError.failed('INVITE', `${invitation.via} refused the redemption: ${message}`);
    }
    // The key is accepted: keep it on disk before anything else can fail.
    await writeToolFile(configPath, wgQuickConfig(invitation, permanent), '--config-dir', { mode: 0o600 });
    const switchedAt = Math.floor(Date.now() / 1000);
    await device.configure(
      deviceConfig(permanent.privateKey, permanent.publicKey, listenPort, invitation, endpoint, [invitation.ipRange]),
    );
    await removeRoute(name, enrolmentRoute);
    let confirmed = false;
    for (const deadline = Date.now() + waitSeconds * 1000; !confirmed && Date.now() < deadline; ) {
      await nudge(invitation).catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
      confirmed = ((await viaHandshake(device, invitation)) ?? 0) >= switchedAt;
    }
    io.stderr(`wrote ${configPath} (0600, holds this peer's private key; \`wg-quick up ${name}\` uses it later)\n`);
    if (!confirmed)
      io.stderr(`warning: no handshake with ${invitation.via} on the new key yet; it retries on its own\n`);
    io.stdout(
      `redeemed "${invitation.name}" in network "${invitation.network}": ${name} is ${invitation.address} ` +
        `through ${invitation.via} with its own key${confirmed ? ' (handshake done)' : ''}\n`,
    );
  } catch (error) {
    await removePeerDevice(name);
    throw error;
  }
}

export const peerGroup: CommandGroup = {
  summary: "the invited peer's side: redeem an invitation over the tunnel",
  commands: {
    redeem: {
      summary: "make this peer's own WireGuard key, enrol it with the via NR over the tunnel, write a wg-quick config",
      positionals: [{ name: 'INVITE', description: 'the invitation text, a file holding it, or - for stdin' }],
      options: {
        interface: {
          type: 'string',
          value: 'NAME',
          description: `the interface to create (default ${DEFAULT_INTERFACE})`,
        },
        'config-dir': {
          type: 'string',
          value: 'DIR',
          description: `where NAME.conf (0600) is written (default ${DEFAULT_CONFIG_DIR})`,
        },
        wait: {
          type: 'string',
          value: 'SECONDS',
          description: `how long to wait for the via NR to answer (default ${DEFAULT_WAIT_SECONDS})`,
        },
        userspace: { type: 'boolean', description: 'use zmesh-wg even where the kernel has WireGuard' },
        force: { type: 'boolean', description: 'replace an existing NAME.conf' },
      },
      notes: 'Run as root. The private key is made here and written only to NAME.conf.',
      run: redeemCommand,
    },
  },
};
