/**
 * `zmesh net group add|remove`, `zmesh net associate|dissociate` and `zmesh net explain`: the
 * access-control verbs (DESIGN.md "Access control"). The editing verbs go through net-edit.ts's
 * `edit` (FILE validated, written atomically, revision bumped, untouched on any error); explain
 * only reads FILE and answers with netdef's explainFlow, the evaluation of the very rules every
 * NR compiles into nftables.
 */

import {
  type AssociationDocument,
  type Flow,
  addGroup,
  associate,
  dissociate,
  explainFlow,
  parseIpv4,
  removeGroup,
} from '../netdef/index.js';
import { CliError, type Invocation } from './command.js';
import { edit } from './net-edit.js';
import { readTarget } from './net-inspect.js';

const PROTOCOLS = new Set(['tcp', 'udp', 'icmp']);

export async function groupCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const action = args.positionals['ACTION'];
  const name = args.strings['name'] as string; // required by the command table
  const cidrs = args.lists['cidr'] ?? [];
  if (action === 'add') {
    if (cidrs.length === 0) throw CliError.invalid('--cidr', 'give at least one CIDR of the group');
    const intraGroup = args.flags['intra-group'] === true;
    const next = await edit(
      invocation,
      (def) => addGroup(def, { name, cidrs, ...(intraGroup ? { intraGroup } : {}) }),
      (def) => {
        const index = (def.groups ?? []).length;
        return {
          [`/groups/${index}/name`]: '--name',
          ...Object.fromEntries(cidrs.map((_, j) => [`/groups/${index}/cidrs/${j}`, `--cidr ${cidrs[j]}`])),
        };
      },
    );
    io.stdout(
      `added group "${name}" (${cidrs.join(', ')}${intraGroup ? ', intra-group' : ''}); revision ${next.revision}\n`,
    );
  } else if (action === 'remove') {
    if (cidrs.length > 0 || args.flags['intra-group'] === true)
      throw CliError.invalid('--cidr', 'group remove takes only --name');
    const next = await edit(
      invocation,
      (def) => removeGroup(def, name),
      () => ({ '/groups': '--name' }),
    );
    io.stdout(`removed group "${name}"; revision ${next.revision}\n`);
  } else {
    throw CliError.invalid('ACTION', `"${action}" is not add or remove`);
  }
}

function associationOf(invocation: Invocation): AssociationDocument {
  const { strings, lists, flags } = invocation.args;
  const protocol = strings['protocol'];
  if (protocol !== undefined && !PROTOCOLS.has(protocol))
    throw CliError.invalid('--protocol', `"${protocol}" is not tcp, udp or icmp`);
  const ports = lists['port'];
  return {
    from: strings['from'] as string,
    to: strings['to'] as string,
    ...(protocol !== undefined ? { protocol } : {}),
    ...(ports !== undefined ? { ports } : {}),
    ...(flags['both-ways'] === true ? { bothWays: true } : {}),
  };
}

/** `web -> db tcp 5432`, `ops <-> web`. */
export function describeAssociation(a: AssociationDocument): string {
  const arrow = a.bothWays ? '<->' : '->';
  const what = a.protocol ? ` ${a.protocol}${a.ports ? ` ${a.ports.join(',')}` : ''}` : '';
  return `${a.from} ${arrow} ${a.to}${what}`;
}

function associationFields(index: number, association: AssociationDocument): Record<string, string> {
  const base = `/associations/${index}`;
  return {
    [base]: '--from/--to',
    [`${base}/from`]: '--from',
    [`${base}/to`]: '--to',
    [`${base}/protocol`]: '--protocol',
    [`${base}/ports`]: '--port',
    ...Object.fromEntries((association.ports ?? []).map((p, j) => [`${base}/ports/${j}`, `--port ${p}`])),
  };
}

export async function associateCommand(invocation: Invocation): Promise<void> {
  const association = associationOf(invocation);
  const next = await edit(
    invocation,
    (def) => associate(def, association),
    (def) => associationFields((def.associations ?? []).length, association),
  );
  invocation.io.stdout(`associated ${describeAssociation(association)}; revision ${next.revision}\n`);
}

export async function dissociateCommand(invocation: Invocation): Promise<void> {
  const association = associationOf(invocation);
  const next = await edit(
    invocation,
    (def) => dissociate(def, association),
    () => ({ '/associations': '--from/--to' }),
  );
  invocation.io.stdout(`dissociated ${describeAssociation(association)}; revision ${next.revision}\n`);
}

/** `--to IP[:PORT]` and `--port N` (one of them gives the port of tcp/udp). */
function flowOf(invocation: Invocation): Flow {
  const { strings } = invocation.args;
  const from = strings['from'] as string;
  if (parseIpv4(from) === undefined) throw CliError.invalid('--from', `"${from}" is not an IPv4 address`);
  const [to, portInTo] = (strings['to'] as string).split(':');
  if (to === undefined || parseIpv4(to) === undefined)
    throw CliError.invalid('--to', `"${strings['to']}" is not IPv4[:PORT]`);
  const protocol = strings['protocol'] ?? 'tcp';
  if (!PROTOCOLS.has(protocol)) throw CliError.invalid('--protocol', `"${protocol}" is not tcp, udp or icmp`);
  const portText = strings['port'] ?? portInTo;
  if (strings['port'] !== undefined && portInTo !== undefined)
    throw CliError.invalid('--port', 'the port is already given in --to');
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535)
      throw CliError.invalid(strings['port'] ? '--port' : '--to', `"${portText}" is not a port (1-65535)`);
    if (protocol === 'icmp') throw CliError.invalid('--port', 'icmp has no port');
  } else if (protocol !== 'icmp') {
    throw CliError.invalid('--port', `${protocol} needs a destination port (--port N or --to IP:PORT)`);
  }
  return { from, to, protocol: protocol as Flow['protocol'], ...(port !== undefined ? { port } : {}) };
}

export async function explainCommand(invocation: Invocation): Promise<void> {
  const flow = flowOf(invocation);
  const { def } = await readTarget(invocation);
  const verdict = explainFlow(def, flow);
  const target = flow.port === undefined ? flow.to : `${flow.to}:${flow.port}`;
  invocation.io.stdout(
    `${verdict.allow ? 'allow' : 'deny'} ${flow.protocol} ${flow.from} -> ${target}: ${verdict.by}\n`,
  );
}
