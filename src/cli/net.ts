/**
 * `zmesh net ...`: the command table of the network-definition verbs. The verbs themselves live
 * in net-edit.ts (they change FILE) and net-inspect.ts (they only read it).
 */

import { graphCommand } from './graph.js';
import type { Command, CommandGroup, PositionalSpec } from './command.js';
import {
  addNodeCommand,
  create,
  removeNodeCommand,
  reprovisionCommand,
  rotateDueCommand,
  rotateKeyCommand,
  setRotateAfterCommand,
  serviceCommand,
  trustCommand,
  setAggregatorCommand,
  setExitCommand,
} from './net-edit.js';
import { planCommand, showCommand, validateCommand } from './net-inspect.js';
import { acceptRedemptionCommand, inviteCommand, revokeCommand } from './invite.js';
import { associateCommand, dissociateCommand, explainCommand, groupCommand } from './net-access.js';
import { statusCommand } from './net-status.js';
import { ADMIN_KEY_OPTION } from './admin-key.js';
import { STORE_OPTION } from './store-target.js';

const FILE: PositionalSpec[] = [
  { name: 'FILE', description: "the network definition (JSON), or the network's name with --store" },
];
const CHANGES =
  'FILE is validated, written atomically and its revision bumped; on any error it is left untouched. ' +
  "In a store the write is a compare-and-swap on the network's revision: after another admin's edit the verb is applied again to the latest revision.";
const STORE = { store: STORE_OPTION };
/** The verbs that write a revision: where it goes and the key that signs it. */
const WRITES = { ...STORE, 'admin-key': ADMIN_KEY_OPTION };

/** associate, dissociate: the same options name the association. */
function associationCommand(summary: string, notes: string, run: Command['run']): Command {
  return {
    summary,
    positionals: FILE,
    options: {
      from: { type: 'string', value: 'GROUP', required: true, description: 'the group that opens connections' },
      to: { type: 'string', value: 'GROUP', required: true, description: 'the group it may reach' },
      protocol: { type: 'string', value: 'P', description: 'tcp, udp or icmp (default: any)' },
      port: {
        type: 'string',
        value: 'N[-M]',
        multiple: true,
        description: 'a destination port or range (tcp/udp; repeatable; default: any)',
      },
      'both-ways': { type: 'boolean', description: 'TO may also open connections to FROM' },
      ...WRITES,
    },
    notes,
    run,
  };
}

/** set-exit: one public member NR takes the role, or --none clears it. */
function setRole(role: 'exit', summary: string, clears: string, run: Command['run']): Command {
  return {
    summary,
    positionals: FILE,
    usage: `set-${role} FILE --node ID | --none`,
    options: {
      node: { type: 'string', value: 'ID', description: 'a public member NR' },
      none: { type: 'boolean', description: clears },
      ...WRITES,
    },
    notes: CHANGES,
    run,
  };
}

export const netGroup: CommandGroup = {
  summary: 'network definitions: create, add and remove nodes, roles, inspect',
  commands: {
    create: {
      summary: 'write a new, empty network definition',
      positionals: FILE,
      options: {
        name: {
          type: 'string',
          value: 'N',
          description:
            'network name (required for a FILE; with --store, FILE is the name); its hash gives the NR namespace n-<netid>',
        },
        'ip-range': {
          type: 'string',
          value: 'CIDR',
          required: true,
          description: 'IPv4 range /8 to /24 outside 100.64.0.0/10, loopback, link-local, multicast',
        },
        force: { type: 'boolean', description: 'replace an existing FILE' },
        ...WRITES,
      },
      run: create,
    },
    'add-node': {
      summary: "add a node's NR: next free /24, a listen port, a WireGuard key sealed to the node",
      positionals: FILE,
      usage: 'add-node FILE (--node-record REC | --node ID) [--subnet CIDR] [--listen-port P] [--store URL]',
      options: {
        'node-record': {
          type: 'string',
          value: 'REC',
          description: 'the node record from `zmesh node init` (a file, or - for stdin)',
        },
        node: {
          type: 'string',
          value: 'ID',
          description: 'instead of --node-record: the record `zmesh node init --store` published',
        },
        ...WRITES,
        subnet: { type: 'string', value: 'CIDR', description: 'a specific free /24 inside the range' },
        'listen-port': {
          type: 'string',
          value: 'P',
          description: 'a specific listen port (default: the lowest free one from the network base port)',
        },
      },
      notes: `${CHANGES} A hidden node joining a network without aggregator makes the first public NR the aggregator.`,
      run: addNodeCommand,
    },
    'remove-node': {
      summary: "remove a node's NR; its /24 and port become free",
      positionals: FILE,
      options: { node: { type: 'string', value: 'ID', required: true, description: 'the node to remove' }, ...WRITES },
      notes: `${CHANGES} The exit, and the aggregator while NRs are hidden, must be replaced first.`,
      run: removeNodeCommand,
    },
    'set-aggregator': {
      summary: 'set the public NRs that relay for hidden NRs, in preference order (failover goes down the list)',
      positionals: FILE,
      usage: 'set-aggregator FILE --node ID [--node ID ...] | --none',
      options: {
        node: {
          type: 'string',
          value: 'ID',
          multiple: true,
          description: 'a public member NR; repeat for failover aggregators, the first is preferred',
        },
        none: { type: 'boolean', description: 'clear the aggregators (only while no NR is hidden)' },
        ...WRITES,
      },
      notes: `${CHANGES} With several aggregators every hidden NR peers with each, and the NRs move to the next live one by themselves when the current one stops answering (README "Aggregators and failover").`,
      run: setAggregatorCommand,
    },
    'set-exit': setRole(
      'exit',
      'set (or clear) the NR through which the whole network reaches the Internet',
      'clear the exit: every NR egresses through its own node',
      setExitCommand,
    ),
    reprovision: {
      summary: 'a reinstalled node keeps its subnet, port and WireGuard address under a new identity',
      positionals: FILE,
      options: {
        node: { type: 'string', value: 'ID', required: true, description: 'the node' },
        'node-record': {
          type: 'string',
          value: 'NEWREC',
          required: true,
          description: 'its new node record (a file, or - for stdin)',
        },
        'rotate-key': { type: 'boolean', description: 'generate a new WireGuard key pair' },
        'old-node-key': {
          type: 'string',
          value: 'KEYFILE',
          description: "the node's previous identity key: re-seals the existing WireGuard key to the new identity",
        },
        ...WRITES,
      },
      notes: `${CHANGES} With a new identity, give --rotate-key or --old-node-key (the existing key is sealed to the old identity, so only that key can re-seal it).`,
      run: reprovisionCommand,
    },
    'rotate-key': {
      summary:
        "give one node's NR a new WireGuard key pair (sealed to the node); its peers learn it in the same revision",
      positionals: FILE,
      options: { node: { type: 'string', value: 'ID', required: true, description: 'the node' }, ...WRITES },
      notes: `${CHANGES} The revision carries a rotation record for the node: nodes refuse a key change without one (pinning).`,
      run: rotateKeyCommand,
    },
    'set-rotate-after': {
      summary: 'schedule key rotation: rotate-due rotates an NR whose key is older than N days',
      positionals: FILE,
      options: {
        days: { type: 'string', value: 'N', description: 'days, 1-3650' },
        none: { type: 'boolean', description: 'no scheduled rotation' },
        ...WRITES,
      },
      notes: `${CHANGES} The age of a key counts from its keyCreatedAt, which the tool stamps whenever it makes one.`,
      run: setRotateAfterCommand,
    },
    'rotate-due': {
      summary: "rotate every NR's key older than the network's rotateAfter days, in one edit",
      positionals: FILE,
      options: { ...WRITES },
      notes: `${CHANGES} Each rotation is rotate-key's (with its record for pinning); a key of unknown age is due. Run it from cron or a timer.`,
      run: rotateDueCommand,
    },
    group: {
      summary: 'add or remove a named group of CIDRs (access control)',
      positionals: [{ name: 'ACTION', description: 'add or remove' }, ...FILE],
      usage: 'group add FILE --name G --cidr CIDR [--cidr CIDR ...] [--intra-group] | group remove FILE --name G',
      options: {
        name: { type: 'string', value: 'G', required: true, description: 'the group name' },
        cidr: {
          type: 'string',
          value: 'CIDR',
          multiple: true,
          description: 'a prefix inside the range (repeatable; add only)',
        },
        'intra-group': { type: 'boolean', description: 'members may open connections to each other (add only)' },
        ...WRITES,
      },
      notes: `${CHANGES} A group used by an association cannot be removed.`,
      run: groupCommand,
    },
    associate: associationCommand(
      'let one group open connections to another (one way unless --both-ways)',
      `${CHANGES} With at least one association, traffic between groups crossing the mesh is denied unless an association allows it; replies always pass.`,
      associateCommand,
    ),
    dissociate: associationCommand(
      'remove an association (the same options it was made with; ports compare merged)',
      CHANGES,
      dissociateCommand,
    ),
    explain: {
      summary: 'allow or deny: what the NRs do with a new connection, and the association (or default) that decides',
      positionals: FILE,
      options: {
        from: { type: 'string', value: 'IP', required: true, description: 'source address' },
        to: { type: 'string', value: 'IP[:PORT]', required: true, description: 'destination address (and port)' },
        protocol: { type: 'string', value: 'P', description: 'tcp (default), udp or icmp' },
        port: { type: 'string', value: 'N', description: 'destination port (or give it in --to)' },
        ...STORE,
      },
      run: explainCommand,
    },
    invite: {
      summary: 'invite an external peer (a laptop) through a public NR; prints the invitation (a secret) on stdout',
      positionals: FILE,
      options: {
        name: { type: 'string', value: 'N', required: true, description: "the peer's name" },
        via: { type: 'string', value: 'NODE', required: true, description: 'the public NR it peers with' },
        address: {
          type: 'string',
          value: 'A',
          description: 'its address: inside the range, outside every NR subnet (default: the highest free one)',
        },
        expires: {
          type: 'string',
          value: 'DURATION',
          description: 'how long the invitation may be redeemed: 30m, 24h (default), 7d',
        },
        ...WRITES,
      },
      notes: `${CHANGES} FILE stores only the invitation's public key; the peer redeems with \`zmesh peer redeem\`.`,
      run: inviteCommand,
    },
    redeem: {
      summary: "record the permanent key an invited peer's via node accepted (once, before expiry)",
      positionals: FILE,
      options: {
        redemption: {
          type: 'string',
          value: 'R',
          description:
            "the via node's redemption record (zmesh-redeem-v2.…), a file holding it, or - for stdin; without it, --store etcd://… folds in every redemption the via nodes reported",
        },
        ...WRITES,
      },
      notes: CHANGES,
      run: acceptRedemptionCommand,
    },
    revoke: {
      summary: 'remove an external peer: a pending invitation can no longer be redeemed, a redeemed peer is dropped',
      positionals: FILE,
      options: { name: { type: 'string', value: 'N', required: true, description: 'the external peer' }, ...WRITES },
      notes: CHANGES,
      run: revokeCommand,
    },
    service: {
      summary: 'add, move or remove a service address (a /32 that follows its owner node and workload)',
      positionals: [{ name: 'ACTION', description: 'add, move or remove' }, ...FILE],
      usage:
        'service add FILE --name N --node ID [--address A] [--workload W] | service move FILE --name N --node ID [--workload W] | service remove FILE --name N',
      options: {
        name: { type: 'string', value: 'N', required: true, description: 'the service name' },
        node: { type: 'string', value: 'ID', description: 'the owner node (add, move)' },
        address: {
          type: 'string',
          value: 'A',
          description: 'inside the range, outside every NR subnet (add; default: the highest free one)',
        },
        workload: {
          type: 'string',
          value: 'W',
          description: "the owner's workload that holds the address (default: the NR holds it)",
        },
        ...WRITES,
      },
      notes: `${CHANGES} Every other NR routes the address to its owner; a move is one revision.`,
      run: serviceCommand,
    },
    trust: {
      summary: "change the admin keys nodes trust: one more signed change of the definition's trust log",
      positionals: FILE,
      options: {
        add: { type: 'string', value: 'KEY', multiple: true, description: 'an admin public key to trust (repeatable)' },
        remove: {
          type: 'string',
          value: 'KEY',
          multiple: true,
          description: 'an admin public key to trust no more (repeatable)',
        },
        ...WRITES,
      },
      notes: `${CHANGES} The change is signed by the admin key (--admin-key/$ZMESH_ADMIN_KEY), which nodes must trust once the earlier changes are applied. The definition keeps every change: a node that skipped revisions follows them from the latest, so the next revision may be signed by an added key at once.`,
      run: trustCommand,
    },
    status: {
      summary: "a network's rollout: per node alive or not, applied revision vs the network's, state, last error",
      positionals: [{ name: 'FILE', description: "the network's name in the store" }],
      usage: 'status NAME --store URL [--wait [--timeout S]]',
      options: {
        ...STORE,
        wait: {
          type: 'boolean',
          description:
            'block until every alive member applied the current revision and one member at least is alive (exit 0), or time out (exit 1)',
        },
        timeout: { type: 'string', value: 'S', description: 'how long --wait waits (default 120 s)' },
      },
      run: statusCommand,
    },
    graph: {
      summary: 'draw the network with Graphviz: NRs, WireGuard peerings, relayed paths, the exit',
      positionals: FILE,
      usage: 'graph FILE|NAME [--store URL] [--status [--networkd-socket S]] --format svg|png|dot --out F',
      options: {
        format: {
          type: 'string',
          value: 'svg|png|dot',
          required: true,
          description: 'what to write (dot: the Graphviz source)',
        },
        out: { type: 'string', value: 'F', required: true, description: 'the file to write' },
        status: {
          type: 'boolean',
          description: "colour this node's peerings by handshake age, label them with traffic (from its networkd)",
        },
        'networkd-socket': {
          type: 'string',
          value: 'S',
          description: "with --status: networkd's API socket (default /var/lib/zmesh/networkd.sock)",
        },
        ...STORE,
      },
      run: graphCommand,
    },
    validate: {
      summary: 'check a definition and its signature; every problem is listed with its JSON path',
      positionals: FILE,
      options: {
        ...STORE,
        trust: {
          type: 'string',
          value: 'KEY',
          multiple: true,
          description: 'an admin public key the signer must be (repeatable)',
        },
        'admin-key': {
          ...ADMIN_KEY_OPTION,
          description: 'without --trust: the signer must be this admin key (default: $ZMESH_ADMIN_KEY)',
        },
      },
      notes:
        'Without --trust or an admin key the signature is checked against the key it names: that proves the file unaltered since signing, not who signed it.',
      run: validateCommand,
    },
    show: {
      summary: 'a readable table of the network',
      positionals: FILE,
      options: STORE,
      run: showCommand,
    },
    plan: {
      summary: "print a node's derived resource (peers, allowed IPs, routes) as JSON",
      positionals: FILE,
      options: {
        node: { type: 'string', value: 'ID', required: true, description: 'the node' },
        'node-key': {
          type: 'string',
          value: 'KEYFILE',
          description: "the node's identity key: proves the sealed WireGuard key opens and matches (never printed)",
        },
        ...STORE,
      },
      run: planCommand,
    },
  },
};
