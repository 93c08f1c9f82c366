// Fuzzing (fast-check) of zmesh-cni's input from outside: the runtime's environment (CNI_*) and
// stdin (the network configuration), and networkd's answers. Every input gives a value or the
// CNI spec's error document — never another exception (runCni's INTERNAL code is how one would
// surface: the plugin catches it to keep its output well-formed, so INTERNAL fails the property)
// — and a refused input has no effect: parseInvocation changes nothing it was given, and runCni
// makes no request to networkd (a real UNIX-socket HTTP server here counts what reaches it).
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type Answer, type Step, start } from '../../../src/cni/core.js';
import { COMMANDS, parseInvocation } from '../../../src/cni/invocation.js';
import { runCni } from '../../../src/cni/run.js';
import { CniErrorCode, SUPPORTED_VERSIONS } from '../../../src/cni/spec.js';

/** Runs per property (ZMESH_FUZZ_RUNS as outside-input.test.ts); the runCni property does a tenth. */
const RUNS = Number(process.env.ZMESH_FUZZ_RUNS ?? 10_000);
const CODES = new Set<number>(Object.values(CniErrorCode));

const dir = mkdtempSync(join(tmpdir(), 'zmesh-cni-fuzz-'));
const SOCKET = join(dir, 'networkd.sock');
let requests = 0;
/** networkd's stand-in for the effect count: a real server on a socket only this test knows. */
const server = http.createServer((req, res) => {
  requests++;
  req.resume();
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"ENOENT","message":"no"}}');
});
await new Promise<void>((resolve) => server.listen(SOCKET, resolve));
test.after.always(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const validConfig = {
  cniVersion: '1.1.0',
  name: 'zm',
  type: 'zmesh-cni',
  network: 'blue',
  socket: SOCKET,
  dns: { nameservers: ['10.0.0.53'], search: ['example'] },
  ip: '10.9.0.7',
  prevResult: { interfaces: [{ name: 'eth0' }], ips: [{ address: '10.9.0.7/24', interface: 0 }] },
};
const validEnv: Record<string, string> = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee',
  CNI_NETNS: '/run/netns/zmesh-cni-fuzz-absent',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p',
  CNI_PATH: '/opt/cni/bin',
};

const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '/', '..', '/run/netns/../x', 'a'.repeat(300), 'eth0\n', 'é', '\u0000'),
);
/** An environment: the valid one with variables replaced, removed or added. */
const envs: fc.Arbitrary<Record<string, string | undefined>> = fc
  .record({
    command: fc.oneof(fc.constantFrom(...COMMANDS), anyText),
    changes: fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...Object.keys(validEnv)), fc.string({ maxLength: 12 })),
        fc.option(anyText, { nil: undefined }),
      ),
      { maxLength: 4 },
    ),
  })
  .map(({ command, changes }) => {
    const env: Record<string, string | undefined> = { ...validEnv, CNI_COMMAND: command };
    for (const [k, v] of changes) env[k] = v;
    return env;
  });

type Json = unknown;
/** The valid configuration with fields replaced by any JSON, removed, or nested values changed. */
const configs: fc.Arbitrary<Json> = fc
  .array(
    fc.tuple(
      fc.constantFrom(...Object.keys(validConfig), 'extra', 'dns.nameservers', 'prevResult.ips', 'runtimeConfig'),
      fc.option(fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('1.0.0', '0.3.1', '10.9.0.256', null)), {
        nil: undefined,
      }),
    ),
    { maxLength: 4 },
  )
  .map((changes) => {
    const doc: Record<string, Json> = structuredClone(validConfig);
    for (const [path, value] of changes) {
      const [a, b] = path.split('.') as [string, string | undefined];
      const parent = b === undefined ? doc : (doc[a] as Record<string, Json> | null);
      if (parent === null || typeof parent !== 'object') continue;
      const key = b ?? a;
      if (value === undefined) delete parent[key];
      else parent[key] = value;
    }
    return doc;
  });
/** stdin: mutated configurations as JSON, that JSON with characters edited, or any text. */
const stdins: fc.Arbitrary<string> = fc.oneof(
  configs.map((c) => JSON.stringify(c)),
  fc
    .tuple(
      configs,
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 3 }),
    )
    .map(([c, edits]) => {
      let text = JSON.stringify(c);
      for (const [at, del, ins] of edits) {
        const i = at % (text.length + 1);
        text = text.slice(0, i) + ins + text.slice(i + del);
      }
      return text;
    }),
  fc.string({ maxLength: 80 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);

test(`CNI env and stdin: an invocation or the spec's error, input unchanged (${RUNS} runs)`, (t) => {
  t.true(parseInvocation(validEnv, JSON.stringify(validConfig)).ok, 'the unmutated invocation is valid');
  let refused = 0;
  fc.assert(
    fc.property(envs, stdins, (env, stdin) => {
      const before = structuredClone(env);
      const parsed = parseInvocation(env, stdin);
      if (!isDeepStrictEqual(before, env)) throw new Error('parseInvocation changed the environment it was given');
      if (parsed.ok) return;
      refused++;
      const { code, msg } = parsed.error;
      if (!CODES.has(code) || code === CniErrorCode.INTERNAL || typeof msg !== 'string' || msg === '')
        throw new Error(`not a spec error: ${JSON.stringify(parsed.error)}`);
      if (typeof parsed.cniVersion !== 'string') throw new Error('an error without the version to write it in');
    }),
    { numRuns: RUNS },
  );
  t.true(refused > RUNS / 10 && refused < RUNS, `both outcomes are exercised (${refused} of ${RUNS} refused)`);
});

test(`runCni: well-formed output, never INTERNAL, and a refused invocation reaches no networkd (${RUNS / 10} runs)`, async (t) => {
  let refusedRuns = 0;
  let performedRuns = 0;
  await fc.assert(
    fc.asyncProperty(envs, stdins, async (env, stdin) => {
      const parsed = parseInvocation(env, stdin);
      // Only calls to this test's server are performed: a mutated socket path elsewhere would make
      // a DEL spool its release next to it, on this machine.
      if (parsed.ok && parsed.invocation.command !== 'VERSION' && parsed.invocation.config.socket !== SOCKET) return;
      const seen = requests;
      const out = await runCni(env, stdin);
      // DEL, GC and STATUS succeed in silence; anything printed is a document with its version.
      const doc = (out.stdout === '' ? {} : JSON.parse(out.stdout)) as {
        code?: unknown;
        msg?: unknown;
        cniVersion?: unknown;
      };
      if (out.stdout !== '' && typeof doc.cniVersion !== 'string') throw new Error(`no cniVersion in ${out.stdout}`);
      if (out.stdout === '' && out.exitCode !== 0) throw new Error('a failure without an error document');
      if (out.exitCode !== 0) {
        if (typeof doc.code !== 'number' || !CODES.has(doc.code) || typeof doc.msg !== 'string')
          throw new Error(`not a spec error document: ${out.stdout}`);
        if (doc.code === CniErrorCode.INTERNAL) throw new Error(`an exception inside zmesh-cni: ${out.stdout}`);
      }
      if (!parsed.ok) {
        refusedRuns++;
        if (requests !== seen) throw new Error(`a refused invocation made ${requests - seen} request(s)`);
        if (out.exitCode === 0) throw new Error('a refused invocation exited 0');
      } else performedRuns++;
    }),
    { numRuns: RUNS / 10 },
  );
  t.true(refusedRuns > 0 && performedRuns > 0, `${refusedRuns} refused, ${performedRuns} performed`);
  t.true(requests > 0, 'the server counts requests (the control that the count can grow)');
});

/** An answer networkd (or the namespace, or the spool) might give: any status, any JSON body. */
const answers: fc.Arbitrary<Answer> = fc.oneof(
  fc.record({
    kind: fc.constant('http' as const),
    status: fc.oneof(fc.constantFrom(200, 404, 409, 503, 500), fc.integer({ min: 100, max: 599 })),
    body: fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({
        ip: fc.oneof(fc.constant('10.9.0.7'), fc.jsonValue()),
        prefix: fc.oneof(fc.constant(24), fc.jsonValue()),
        gateway: fc.oneof(fc.constant('10.9.0.1'), fc.jsonValue()),
        mtu: fc.oneof(fc.constant(1420), fc.jsonValue()),
        routes: fc.oneof(fc.array(fc.jsonValue({ maxDepth: 2 })), fc.jsonValue()),
        workloads: fc.array(fc.jsonValue({ maxDepth: 2 })),
        released: fc.jsonValue(),
        errors: fc.jsonValue(),
        error: fc.jsonValue(),
      }),
    ),
  }),
  fc.record({ kind: fc.constant('unreachable' as const), message: fc.string({ maxLength: 20 }) }),
  fc.record({
    kind: fc.constant('interface' as const),
    state: fc.option(
      fc.record({
        mac: fc.option(fc.string({ maxLength: 17 }), { nil: null }),
        mtu: fc.integer(),
        addresses: fc.array(fc.oneof(fc.constant('10.9.0.7/24'), fc.string({ maxLength: 18 })), { maxLength: 3 }),
      }),
      { nil: null },
    ),
  }),
  fc.record({
    kind: fc.constant('spool' as const),
    outcome: fc.constantFrom('spooled' as const, 'full' as const, 'failed' as const),
  }),
);

test(`networkd's answers: every sequence of answers ends in a result or a spec error document (${RUNS} runs)`, (t) => {
  const invocations = [...COMMANDS].flatMap((command) =>
    SUPPORTED_VERSIONS.map((cniVersion) =>
      parseInvocation(
        { ...validEnv, CNI_COMMAND: command, ...(command === 'GC' || command === 'STATUS' ? { CNI_ARGS: '' } : {}) },
        JSON.stringify({ ...validConfig, cniVersion }),
      ),
    ),
  );
  const valid = invocations.flatMap((p) => (p.ok ? [p.invocation] : []));
  t.true(valid.length >= COMMANDS.length, `${valid.length} valid invocations across commands and versions`);
  fc.assert(
    fc.property(fc.constantFrom(...valid), fc.array(answers, { minLength: 4, maxLength: 4 }), (invocation, given) => {
      let step: Step = start(invocation);
      for (let i = 0; step.kind === 'call'; i++) step = step.next(given[i % given.length] as Answer);
      const doc = (step.stdout === '' ? {} : JSON.parse(step.stdout)) as {
        code?: unknown;
        msg?: unknown;
        cniVersion?: unknown;
      };
      if (step.exitCode !== 0 && (typeof doc.code !== 'number' || !CODES.has(doc.code) || typeof doc.msg !== 'string'))
        throw new Error(`not a spec error document: ${step.stdout}`);
    }),
    { numRuns: RUNS },
  );
});
