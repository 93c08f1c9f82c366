/**
 * The `zmesh net` verbs that change a definition FILE: create, add-node, remove-node,
 * set-aggregator, set-exit, reprovision. Each loads and validates FILE, applies one netdef verb
 * (which validates the result and bumps the revision) and writes FILE atomically; on any error
 * FILE is left as it was.
 */

import {
  type NetworkDefinition,
  type NodeRecord,
  addNode,
  addService,
  addTrustChange,
  dueKeys,
  rotateDue,
  setRotateAfter,
  stampKeyDates,
  assertAdminPublicKey,
  keyLabel,
  createNetwork,
  moveService,
  removeService,
  ready,
  removeNode,
  reprovisionNode,
  rotateNodeKey,
  setAggregators,
  setExit,
  sodiumKeySource,
} from '../netdef/index.js';
import { adminKeyOf, definitionSigner } from './admin-key.js';
import { CliError, type Invocation } from './command.js';
import { loadDefinition, loadIdentityKey, loadNodeRecord, saveDefinition, toCliError } from './definition-io.js';
import { fileExists } from './files.js';
import { withSignedWrites } from '../store/index.js';
import { openStoreOption, resolveTarget, storeCliError, storeUrlOf, withTarget } from './store-target.js';

/** JSON paths of a resource at `index` → the options that supplied them. */
function resourceFields(
  index: number,
  recordOption: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const base = `/resources/${index}`;
  return {
    [`${base}/node`]: `${recordOption}#/id`,
    [`${base}/identityKey`]: `${recordOption}#/identityKey`,
    [`${base}/endpoints`]: `${recordOption}#/endpoints`,
    [`${base}/hidden`]: `${recordOption}#/hidden`,
    ...Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`${base}/endpoints/${i}`, `${recordOption}#/endpoints/${i}`]),
    ),
    ...extra,
  };
}

/**
 * Runs one change: FILE (or the network in the store) is written only when `change` returns a
 * valid definition. In a store the change is a compare-and-swap: after a lost race it runs again
 * on the latest definition, and fails (writing nothing) if it no longer applies. Also used by
 * net-access.ts and invite.ts.
 */
export async function edit(
  invocation: Invocation,
  change: (def: NetworkDefinition) => NetworkDefinition | Promise<NetworkDefinition>,
  fields: (def: NetworkDefinition) => Record<string, string> = () => ({}),
): Promise<NetworkDefinition> {
  const edited = change;
  // Every new WireGuard key is stamped with its time (what rotateAfter counts from).
  change = async (def) => stampKeyDates(def, await edited(def), new Date());
  const target = resolveTarget(invocation);
  const sign = await definitionSigner(invocation);
  if (target.kind === 'store') {
    const store = withSignedWrites(target.store, sign);
    return withTarget(target, async () => {
      const result = await store.editNetwork(target.name, async (def) => {
        try {
          return await change(def);
        } catch (error) {
          throw toCliError(error, target.label, fields(def));
        }
      });
      return result.after;
    });
  }
  const file = target.file;
  const def = await loadDefinition(file);
  let next: NetworkDefinition;
  try {
    next = sign(await change(def));
  } catch (error) {
    throw toCliError(error, file, fields(def));
  }
  await saveDefinition(file, next);
  return next;
}

function nodeOption(invocation: Invocation): string {
  return invocation.args.strings['node'] as string; // required by the command table
}

/** remove-node: an unknown node, or refusing to remove the exit or a needed aggregator, is about --node. */
function removeNodeFields(): Record<string, string> {
  return { '/resources': '--node', '/aggregator': '--node', '/exit': '--node' };
}

export async function create(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const target = resolveTarget(invocation);
  const sign = await definitionSigner(invocation);
  if (target.kind === 'store') {
    const name = args.strings['name'];
    if (name !== undefined && name !== target.name)
      throw CliError.invalid('--name', `"${name}" differs from the network named by FILE ("${target.name}")`);
    let def: NetworkDefinition;
    try {
      def = createNetwork(target.name, args.strings['ip-range'] as string);
    } catch (error) {
      throw toCliError(error, target.label, { '/name': 'FILE', '/ipRange': '--ip-range' });
    }
    await withTarget(target, () =>
      withSignedWrites(target.store, sign).createNetwork(def, { replace: args.flags['force'] === true }),
    );
    io.stdout(
      `created network "${def.name}" (${def.ipRange}) in ${target.store.description}, revision ${def.revision}\n`,
    );
    return;
  }
  const file = target.file;
  if (args.strings['name'] === undefined) throw CliError.invalid('--name', 'required');
  if (args.flags['force'] !== true && (await fileExists(file))) {
    throw CliError.invalid('FILE', `${file} already exists (use --force to replace it)`);
  }
  let def: NetworkDefinition;
  try {
    def = sign(createNetwork(args.strings['name'] as string, args.strings['ip-range'] as string));
  } catch (error) {
    throw toCliError(error, file, { '/name': '--name', '/ipRange': '--ip-range' });
  }
  await saveDefinition(file, def);
  io.stdout(`created network "${def.name}" (${def.ipRange}) in ${file}, revision ${def.revision}\n`);
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw CliError.invalid('--listen-port', `"${text}" is not a port (1-65535)`);
  }
  return Number(text);
}

/** The record of add-node: --node-record REC (a file or -), or --node ID from the store. */
async function addNodeRecord(invocation: Invocation): Promise<NodeRecord> {
  const { args, io } = invocation;
  const path = args.strings['node-record'];
  const id = args.strings['node'];
  if ((path === undefined) === (id === undefined))
    throw CliError.invalid('--node-record', 'give exactly one of --node-record REC and --node ID');
  if (path !== undefined) return loadNodeRecord(path, '--node-record', io);
  const url = storeUrlOf(invocation);
  if (url === undefined)
    throw CliError.invalid('--node', 'takes the record from the store: give --store URL (or set ZMESH_STORE)');
  const store = openStoreOption(url);
  try {
    const record = await store.readNodeRecord(id as string);
    if (!record)
      throw CliError.invalid(
        '--node',
        `no node record "${id}" in ${store.description} (publish it with zmesh node init --store)`,
      );
    return record;
  } catch (error) {
    throw storeCliError(error);
  } finally {
    await store.close();
  }
}

export async function addNodeCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const listenPort = parsePort(args.strings['listen-port']);
  const record = await addNodeRecord(invocation);
  const recordOption = args.strings['node'] === undefined ? '--node-record' : '--node';
  await ready();
  const subnet = args.strings['subnet'];
  let before: NetworkDefinition | undefined;
  const next = await edit(
    invocation,
    (def) => {
      before = def;
      return addNode(def, record, sodiumKeySource, {
        ...(subnet === undefined ? {} : { subnet }),
        ...(listenPort === undefined ? {} : { listenPort }),
      });
    },
    (def) =>
      resourceFields(def.resources.length, recordOption, {
        [`/resources/${def.resources.length}/subnet`]: '--subnet',
        [`/resources/${def.resources.length}/listenPort`]: '--listen-port',
        '/ipRange': '--subnet',
      }),
  );
  const added = next.resources[next.resources.length - 1];
  io.stdout(
    `added node "${record.id}": subnet ${added?.subnet}, listen port ${added?.listenPort}; revision ${next.revision}\n`,
  );
  if (before && before.aggregator === undefined && next.aggregator !== undefined) {
    io.stdout(
      `hidden node "${record.id}" needs an aggregator: "${next.aggregator}" (the first public NR) is now the aggregator; change it with set-aggregator\n`,
    );
  }
}

export async function removeNodeCommand(invocation: Invocation): Promise<void> {
  const node = nodeOption(invocation);
  const next = await edit(invocation, (def) => removeNode(def, node), removeNodeFields);
  invocation.io.stdout(`removed node "${node}"; revision ${next.revision}\n`);
}

/** set-exit: exactly one of --node ID and --none; a refusal of the role names the option given. */
function setRoleCommand(role: 'exit', set: (def: NetworkDefinition, node: string | undefined) => NetworkDefinition) {
  return async (invocation: Invocation): Promise<void> => {
    const { args, io } = invocation;
    const node = args.strings['node'];
    const none = args.flags['none'] === true;
    if ((node === undefined) === !none) throw CliError.invalid('--node', 'give exactly one of --node ID and --none');
    const next = await edit(
      invocation,
      (def) => set(def, node),
      () => ({ [`/${role}`]: none ? '--none' : '--node' }),
    );
    io.stdout(
      `${node === undefined ? `cleared the ${role}` : `${role} is now "${node}"`}; revision ${next.revision}\n`,
    );
  };
}

/**
 * set-aggregator: --node once or more (preference order, the first preferred) or --none. A refusal
 * names the option given: --node N for the N-th aggregator of the list.
 */
export async function setAggregatorCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const nodes = args.lists['node'] ?? [];
  const none = args.flags['none'] === true;
  if ((nodes.length === 0) === !none) throw CliError.invalid('--node', 'give --node ID (once or more) or --none');
  const next = await edit(
    invocation,
    (def) => setAggregators(def, nodes),
    () => ({
      '/aggregator': none ? '--none' : '--node',
      '/aggregators': none ? '--none' : '--node',
      ...Object.fromEntries(nodes.map((node, index) => [`/aggregators/${index}`, `--node ${node}`])),
    }),
  );
  const what =
    nodes.length === 0
      ? 'cleared the aggregator'
      : nodes.length === 1
        ? `aggregator is now "${nodes[0]}"`
        : `aggregators are now ${nodes.map((node) => `"${node}"`).join(', ')} (in preference order)`;
  io.stdout(`${what}; revision ${next.revision}\n`);
}
export const setExitCommand = setRoleCommand('exit', setExit);

export async function reprovisionCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const node = nodeOption(invocation);
  const record = await loadNodeRecord(args.strings['node-record'] as string, '--node-record', io);
  const oldKeyPath = args.strings['old-node-key'];
  await ready();
  const oldIdentity = oldKeyPath === undefined ? undefined : await loadIdentityKey(oldKeyPath, '--old-node-key');
  const rotateKey = args.flags['rotate-key'] === true;
  const next = await edit(
    invocation,
    (def) =>
      reprovisionNode(def, node, record, { rotateKey, ...(oldIdentity ? { oldIdentity } : {}) }, sodiumKeySource),
    (def) => {
      const index = def.resources.findIndex((r) => r.node === node);
      return {
        ...resourceFields(index, '--node-record'),
        '/resources': '--node',
        '/id': '--node-record#/id',
        '/identityKey': '--old-node-key',
        '/wgPrivateKeySealed': '--old-node-key',
      };
    },
  );
  const resource = next.resources.find((r) => r.node === node);
  io.stdout(
    `reprovisioned node "${node}": subnet ${resource?.subnet}, listen port ${resource?.listenPort} kept; WireGuard key ${rotateKey ? 'rotated' : "kept (sealed to the node's current identity)"}; revision ${next.revision}\n`,
  );
}

/** rotate-key: a new WireGuard key pair for one NR, sealed to its node; the revision carries the rotation record. */
export async function rotateKeyCommand(invocation: Invocation): Promise<void> {
  await ready();
  const node = nodeOption(invocation);
  const next = await edit(
    invocation,
    (def) => rotateNodeKey(def, node, sodiumKeySource),
    () => ({ '/resources': '--node' }),
  );
  const resource = next.resources.find((r) => r.node === node);
  invocation.io.stdout(
    `rotated the WireGuard key of node "${node}": public key ${resource?.wgPublicKey ?? '?'}; revision ${next.revision}\n`,
  );
}

/** service add|move|remove: a service address in the definition (netdef/services.ts). */
export async function serviceCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const action = args.positionals['ACTION'];
  const name = args.strings['name'] as string; // required by the command table
  const node = args.strings['node'];
  const workload = args.strings['workload'];
  // A new service is appended: its problems are about the options given.
  const fields = (def: NetworkDefinition) => {
    const at = `/services/${action === 'add' ? (def.services ?? []).length : (def.services ?? []).findIndex((s) => s.name === name)}`;
    return {
      '/services': '--name',
      [`${at}/name`]: '--name',
      [`${at}/address`]: '--address',
      [`${at}/node`]: '--node',
      [`${at}/workload`]: '--workload',
    };
  };
  let change: (def: NetworkDefinition) => NetworkDefinition;
  if (action === 'add' || action === 'move') {
    if (node === undefined) throw CliError.invalid('--node', `required with ${action}`);
    change =
      action === 'add'
        ? (def) =>
            addService(def, {
              name,
              node,
              ...(args.strings['address'] === undefined ? {} : { address: args.strings['address'] }),
              ...(workload === undefined ? {} : { workload }),
            })
        : (def) => moveService(def, name, node, workload);
  } else if (action === 'remove') {
    change = (def) => removeService(def, name);
  } else {
    throw CliError.invalid('ACTION', `"${action ?? ''}" is not add, move or remove`);
  }
  const next = await edit(invocation, change, fields);
  const service = next.services?.find((s) => s.name === name);
  io.stdout(
    service
      ? `service "${name}": ${service.address} on ${service.node}${service.workload ? ` (workload ${service.workload})` : ''}; revision ${next.revision}\n`
      : `removed service "${name}"; its address is free; revision ${next.revision}\n`,
  );
}

/** trust: one more change of the trust log, signed by the admin key this invocation signs with. */
export async function trustCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const key = await adminKeyOf(invocation);
  if (key === null)
    throw CliError.invalid(
      '--admin-key',
      `a trust change is signed by an admin key: give --admin-key FILE or $ZMESH_ADMIN_KEY`,
    );
  const keys = (option: 'add' | 'remove') =>
    (args.lists[option] ?? []).map((text, i) => {
      try {
        return assertAdminPublicKey(text);
      } catch (error) {
        throw CliError.invalid(`--${option} #${i + 1}`, (error as Error).message);
      }
    });
  const update = { add: keys('add'), remove: keys('remove') };
  const next = await edit(
    invocation,
    (def) => addTrustChange(def, update, key),
    () => ({ '/trust': '--add' }),
  );
  const change = next.trust!.at(-1)!;
  io.stdout(
    `trust change #${change.seq}: +${change.add.length} −${change.remove.length} key(s), signed by ${keyLabel(change.signature.key)}; revision ${next.revision}\n`,
  );
}

/** rotate-due: every NR whose key is older than the definition's rotateAfter gets a new key pair. */
export async function rotateDueCommand(invocation: Invocation): Promise<void> {
  await ready();
  const now = new Date();
  let due: ReturnType<typeof dueKeys> = [];
  const next = await edit(invocation, (def) => {
    due = dueKeys(def, now);
    if (def.rotateAfter === undefined)
      throw CliError.invalid('FILE', 'the network sets no rotateAfter (zmesh net set-rotate-after FILE --days N)');
    return rotateDue(def, now, sodiumKeySource);
  });
  const lines = due.map((d) => `  ${d.node} (key ${d.ageDays === null ? 'of unknown age' : `${d.ageDays} days old`})`);
  invocation.io.stdout(
    due.length === 0
      ? `no key is older than ${next.rotateAfter} days; nothing rotated\n`
      : `rotated ${due.length} key(s); revision ${next.revision}\n${lines.join('\n')}\n`,
  );
}

/** set-rotate-after: the days after which rotate-due rotates an NR's key (--none: no schedule). */
export async function setRotateAfterCommand(invocation: Invocation): Promise<void> {
  const { args, io } = invocation;
  const text = args.strings['days'];
  const none = args.flags['none'] === true;
  if ((text === undefined) === !none) throw CliError.invalid('--days', 'give --days N or --none');
  const days = text === undefined ? undefined : Number(text);
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650))
    throw CliError.invalid('--days', `"${text}" is not a whole number of days 1-3650`);
  const next = await edit(
    invocation,
    (def) => setRotateAfter(def, days),
    () => ({ '/rotateAfter': '--days' }),
  );
  io.stdout(
    `${days === undefined ? 'no scheduled rotation' : `keys rotate after ${days} days`}; revision ${next.revision}\n`,
  );
}
