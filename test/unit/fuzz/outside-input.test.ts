// Fuzzing (fast-check, high counts) of the TypeScript parsers that read what comes from outside
// the process: UAPI request text (the wgd socket), network definitions (files, the store, the
// provisiond API), task documents and their JSON text (the provisiond API body, spool files),
// store keys and values (etcd), invitation and redemption texts (handed between people). Inputs are arbitrary text/JSON and mutations of valid documents
// (a field replaced by any JSON value, removed, or an extra field added; characters inserted or
// deleted in the text). Each must give a value or the parser's own typed error — never another
// exception (a TypeError from a parser that trusted a shape is the bug this finds) — and must not
// change its input or, for the UAPI device, the device's configuration when refused.
import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { NetdefError } from '../../../src/netdef/errors.js';
import { parseEnrolmentRequest } from '../../../src/netdef/enrolment.js';
import {
  acceptRedemption,
  formatRedemption,
  invite,
  parseInvitation,
  temporaryKeyOf,
} from '../../../src/netdef/invitations.js';
import { generateKeyPair } from '../../../src/netdef/keys.js';
import { parseNetworkDefinition, parseNodeRecord } from '../../../src/netdef/parse.js';
import { ProvisiondError } from '../../../src/provisiond/errors.js';
import { parseJsonText } from '../../../src/provisiond/api.js';
import { parseTasks } from '../../../src/provisiond/task.js';
import { StoreError } from '../../../src/store/errors.js';
import { PREFIX, parseKey } from '../../../src/store/keys.js';
import { readAlive, readMeta, readNodeRecordValue, readResource, readStatus } from '../../../src/store/values.js';
import { ConfigOnlyDevice } from '../../../src/wg/uapi/config-only-device.js';
import { UapiError } from '../../../src/wg/uapi/errors.js';
import { parseRequest } from '../../../src/wg/uapi/parse.js';
import { attach, oneNodeDefinition } from '../provisiond/helpers.js';

/** Runs per property: high enough to matter, bounded so that the file stays under ~1 min here. */
const RUNS = Number(process.env.ZMESH_FUZZ_RUNS ?? 10_000);

type Path = (string | number)[];

/** Every path into a JSON value (the root too). */
function pathsOf(value: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

type Mutation = { kind: 'replace' | 'remove' | 'add'; pick: number; key: string; value: unknown };

const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({
    kind: fc.constantFrom('replace', 'remove', 'add'),
    pick: fc.nat(),
    key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'id', 'type', 'name')),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom(null, -1, 1e300, '', '10.0.0.0/8', 'x'.repeat(5000)),
    ),
  }),
  { minLength: 1, maxLength: 4 },
);

/** A deep copy of doc with the mutations applied (each at a path chosen among the current ones). */
function mutate(doc: unknown, ms: readonly Mutation[]): unknown {
  let root: unknown = structuredClone(doc);
  for (const m of ms) {
    const paths = pathsOf(root);
    const path = paths[m.pick % paths.length] as Path;
    if (path.length === 0) {
      if (m.kind === 'replace') root = structuredClone(m.value);
      continue;
    }
    const parent = path.slice(0, -1).reduce<any>((v, k) => v[k], root);
    const last = path[path.length - 1] as string | number;
    if (m.kind === 'replace') parent[last] = structuredClone(m.value);
    else if (m.kind === 'remove') Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
    else if (parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last]))
      Object.defineProperty(parent[last], m.key, {
        value: structuredClone(m.value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else if (Array.isArray(parent[last])) parent[last].push(structuredClone(m.value));
  }
  return root;
}

/** Characters inserted, deleted or replaced in a text. */
const textEdits = fc.array(fc.record({ at: fc.nat(), del: fc.nat({ max: 4 }), ins: fc.string({ maxLength: 4 }) }), {
  minLength: 1,
  maxLength: 4,
});
function editText(text: string, edits: readonly { at: number; del: number; ins: string }[]): string {
  let out = text;
  for (const e of edits) {
    const at = e.at % (out.length + 1);
    out = out.slice(0, at) + e.ins + out.slice(at + e.del);
  }
  return out;
}

/** The call returns, or throws an instance of one of the allowed classes; anything else fails. */
function typedOutcome(
  t: { fail(message: string): void },
  what: string,
  allowed: readonly (abstract new (...args: never[]) => unknown)[],
  call: () => unknown,
): boolean {
  try {
    call();
    return true;
  } catch (error) {
    if (allowed.some((c) => error instanceof c)) return false;
    t.fail(`${what}: ${(error as Error)?.stack ?? String(error)}`);
    throw error;
  }
}

function unchanged<T>(t: { fail(message: string): void }, input: T, run: (input: T) => void): void {
  const before = structuredClone(input);
  run(input);
  if (!isDeepStrictEqual(before, input)) t.fail('the parser changed its input');
}

const definition = await oneNodeDefinition('fuzz');
const definitionDoc = JSON.parse(JSON.stringify(definition)) as Record<string, unknown>;

test(`definitions: any JSON and mutated definitions give a result, never an exception (${RUNS} runs each)`, (t) => {
  const check = (input: unknown): void =>
    unchanged(t, input, (doc) => {
      const result = parseNetworkDefinition(doc);
      if (
        !result.ok &&
        (result.errors.length === 0 || result.errors.some((e) => typeof e.path !== 'string' || !e.message))
      )
        t.fail(`a refusal without a path and message: ${JSON.stringify(result.errors)}`);
      parseNodeRecord(doc);
    });
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), check), { numRuns: RUNS });
  fc.assert(
    fc.property(mutations, (ms) => check(mutate(definitionDoc, ms))),
    { numRuns: RUNS },
  );
  t.true(
    parseNetworkDefinition(definitionDoc).ok,
    'the unmutated definition is valid (the mutations start from a valid one)',
  );
});

test(`tasks: API body text (any, mutated JSON, edited text) gives tasks or a ProvisiondError (${RUNS} runs each)`, (t) => {
  const valid = [
    attach('t1', 'fuzz'),
    { id: 't2', type: 'network.apply', definition: definitionDoc },
    { id: 't3', type: 'network.delete', network: 'fuzz' },
  ];
  t.is(parseTasks(parseJsonText(JSON.stringify(valid), 'body')).length, 3, 'the unmutated tasks are valid');
  const body = (text: string): boolean =>
    typedOutcome(t, 'tasks', [ProvisiondError], () => parseTasks(parseJsonText(text, 'body')));
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (x) => void body(x)),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(mutations, (ms) => void body(JSON.stringify(mutate(valid, ms)))),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(textEdits, (es) => void body(editText(JSON.stringify(valid), es))),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(mutations, (ms) => {
      const doc = mutate(valid, ms);
      unchanged(t, doc, (d) => void typedOutcome(t, 'tasks (object)', [ProvisiondError], () => parseTasks(d)));
    }),
    { numRuns: RUNS },
  );
});

test(`store: keys and values (any text, mutated values) give a value or a StoreError (${RUNS} runs each)`, (t) => {
  const meta = {
    version: 1,
    name: 'fuzz',
    revision: 3,
    ipRange: '10.0.0.0/16',
    resourceCount: 1,
    resourcesDigest: 'a'.repeat(64),
  };
  const resource = { position: 0, resource: definitionDoc.resources && (definitionDoc.resources as unknown[])[0] };
  const status = { network: 'fuzz', revision: 3, state: 'applied', time: '2026-12-07T01:00:00.000Z' };
  const alive = { since: '2026-12-07T01:00:00.000Z', pid: 42 };
  const node = (resource.resource as { node: string }).node;
  const readers: [string, unknown, (text: string) => unknown][] = [
    ['meta', meta, (s) => readMeta(`${PREFIX}networks/fuzz/meta`, s, 'fuzz')],
    ['resource', resource, (s) => readResource(`${PREFIX}networks/fuzz/resources/${node}`, s, node)],
    ['status', status, (s) => readStatus(`${PREFIX}nodes/${node}/status/fuzz`, s)],
    ['alive', alive, (s) => readAlive(`${PREFIX}nodes/${node}/alive`, s)],
    ['record', { id: node }, (s) => readNodeRecordValue(`${PREFIX}nodes/${node}/record`, s, node)],
  ];
  for (const [name, value, read] of readers) {
    if (name !== 'record') t.notThrows(() => read(JSON.stringify(value)), `the unmutated ${name} value is valid`);
    const outcome = (text: string): boolean => typedOutcome(t, `store ${name}`, [StoreError], () => read(text));
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (x) => void outcome(x)),
      { numRuns: RUNS / 4 },
    );
    fc.assert(
      fc.property(mutations, (ms) => void outcome(JSON.stringify(mutate(value, ms)))),
      { numRuns: RUNS / 4 },
    );
    fc.assert(
      fc.property(textEdits, (es) => void outcome(editText(JSON.stringify(value), es))),
      { numRuns: RUNS / 4 },
    );
  }
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc
          .array(fc.constantFrom('networks', 'nodes', 'meta', 'resources', 'record', 'alive', 'status', '', 'x'))
          .map((p) => PREFIX + p.join('/')),
      ),
      (key) => {
        const parsed = parseKey(key);
        t.true(['meta', 'resource', 'record', 'alive', 'status', 'unknown'].includes(parsed.kind));
      },
    ),
    { numRuns: RUNS },
  );
});

test(`UAPI: request text (any, edited valid requests) parses or is a UapiError; a refused set changes nothing (${RUNS} runs each)`, async (t) => {
  const hex = (b: number): string => Buffer.alloc(32, b).toString('hex');
  const lines = [
    'set=1',
    `private_key=40${'41'.repeat(31)}`,
    'listen_port=51820',
    'fwmark=4660',
    'replace_peers=true',
    `public_key=${hex(0xa1)}`,
    `preshared_key=${hex(0x5c)}`,
    'endpoint=[2001:db8::9]:443',
    'persistent_keepalive_interval=25',
    'replace_allowed_ips=true',
    'allowed_ip=10.1.0.0/24',
    'allowed_ip=fd00:1::/64',
    'protocol_version=1',
    `public_key=${hex(0xb2)}`,
    'remove=true',
  ];
  const valid = `${lines.join('\n')}\n\n`;
  const device = await ConfigOnlyDevice.create();
  const apply = (text: string): void => {
    const before = device.get();
    let parsed: ReturnType<typeof parseRequest> | null = null;
    if (!typedOutcome(t, 'UAPI parse', [UapiError], () => (parsed = parseRequest(text)))) return;
    const request = parsed as ReturnType<typeof parseRequest> | null;
    if (request?.op !== 'set') return;
    if (
      !typedOutcome(t, 'UAPI set', [UapiError], () => device.set(request.request)) &&
      !isDeepStrictEqual(before, device.get())
    )
      t.fail('a refused set changed the device');
  };
  apply(valid);
  t.is(device.get().peers.length, 1, 'the unedited request applies (a peer added, one removed)');
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => apply(s)),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(textEdits, (es) => apply(editText(valid, es))),
    { numRuns: RUNS },
  );
  // Line-level: valid keys with arbitrary values, in any order.
  const line = fc.tuple(
    fc.constantFrom(...lines.slice(1).map((l) => l.split('=')[0] as string), 'get', 'set', ''),
    fc.string({ maxLength: 50 }),
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          line.map(([k, v]) => `${k}=${v}`),
          fc.constantFrom(...lines.slice(1)),
        ),
        { maxLength: 12 },
      ),
      (ls) => apply(`set=1\n${ls.join('\n')}\n\n`),
    ),
    { numRuns: RUNS },
  );
});

test(`invitations, redemptions and enrolment requests (any text/JSON, edited valid texts) parse or give a NetdefError; a refused redemption changes nothing (${RUNS} runs each)`, (t) => {
  const { def, invitation } = invite(definition, {
    name: 'ext1',
    via: definition.resources[0]?.node as string,
    expires: new Date(Date.now() + 3_600_000),
  });
  const parsed = parseInvitation(invitation);
  const redemption = formatRedemption({
    network: parsed.network,
    name: parsed.name,
    inviteKey: parsed.inviteKey,
    publicKey: generateKeyPair().publicKey,
    redeemedAt: new Date().toISOString(),
  });
  t.is(acceptRedemption(def, redemption).revision, def.revision + 1, 'the unedited redemption is accepted');
  const inv = (text: string): void => {
    typedOutcome(t, 'invitation', [NetdefError], () => temporaryKeyOf(parseInvitation(text)));
  };
  const red = (text: string): void =>
    unchanged(t, def, (d) => {
      typedOutcome(t, 'redemption', [NetdefError], () => acceptRedemption(d, text));
    });
  const enrol = (body: unknown): void => {
    typedOutcome(t, 'enrolment request', [NetdefError], () => parseEnrolmentRequest(body));
  };
  fc.assert(fc.property(fc.jsonValue(), enrol), { numRuns: RUNS });
  fc.assert(fc.property(fc.dictionary(fc.constantFrom('publicKey', 'name', 'x'), fc.jsonValue()), enrol), {
    numRuns: RUNS,
  });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), inv), { numRuns: RUNS });
  fc.assert(
    fc.property(textEdits, (es) => inv(editText(invitation, es))),
    { numRuns: RUNS },
  );
  fc.assert(fc.property(fc.string({ maxLength: 200 }), red), { numRuns: RUNS });
  fc.assert(
    fc.property(textEdits, (es) => red(editText(redemption, es))),
    { numRuns: RUNS },
  );
});
