// Invitations redeemed over the tunnel, end to end: two public nodes with networkd, a network
// whose groups let a "laptops" group open tcp 8080 on beta's subnet only, and laptops behind a
// NAT router on the simulated internet running the real `zmesh peer redeem` (zmesh-wg device,
// enrolment over WireGuard with the invitation's temporary key). Then: the laptop reaches exactly
// what the associations allow; the temporary key no longer gets anything through; a second
// redemption, an expired invitation and a revoked one are refused with clear errors; the via
// node's report becomes the admin's next signed revision and the laptop keeps working across it.
// No secret appears in any output, log or the definition.
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../../src/sim/harness/command.js';
import type { Namespace } from '../../src/sim/harness/namespace.js';
import type { SimNetwork } from '../../src/sim/network.js';
import type { SimNode } from '../../src/sim/node.js';
import { startTcpListener, tcpProbe } from '../../src/sim/probes.js';
import { SimWorld, type SimWorkload } from '../../src/sim/world.js';
import { defaultZmeshInvocation, zmeshArgs } from '../../src/sim/zmesh-command.js';
import { parseInvitation } from '../../src/netdef/index.js';
import { waitFor } from '../harness/index.js';
import { removeSocketsOf } from '../netns/wg-pair.js';

const zmesh = defaultZmeshInvocation();
let world: SimWorld;
let net: SimNetwork;
let alpha: SimNode;
let beta: SimNode;
let onAlpha: SimWorkload;
let onBeta: SimWorkload;
let nat: Namespace;
let laptops = 0;
/** The first laptop, which redeemed. */
let redeemed: Namespace;

test.before(async () => {
  world = await SimWorld.create([{ id: 'alpha' }, { id: 'beta' }]);
  [alpha, beta] = [world.node('alpha'), world.node('beta')];
  net = await world.createNetwork('inv', '10.31.0.0/16', [alpha, beta]);
  // The laptops' NAT router on the internet (above the nodes' 192.0.2.(4N+1) links).
  nat = await world.harness.natRouter('lnat', { outside: 'wan' });
  await world.harness.link(world.internet, 'lnat', nat, 'wan', {
    addressA: '192.0.2.249/30',
    addressB: '192.0.2.250/30',
  });
  await nat.addRoute('default', { via: '192.0.2.249' });
});

test.afterEach.always((t) => {
  if (!t.passed) t.log(world?.diagnostics());
});

test.after.always(async () => {
  await world?.teardown();
  if (world) removeSocketsOf(world.prefix);
});

/** A fresh laptop namespace on the NAT's LAN (10.200.9X.0/24: no node's NAT LAN). */
async function laptop(): Promise<{ ns: Namespace; ifname: string; dir: string }> {
  const n = ++laptops;
  const ns = await world.harness.namespace(`lap${n}`);
  await world.harness.link(nat, `lan${n}`, ns, 'eth0', {
    addressA: `10.200.${90 + n}.1/24`,
    addressB: `10.200.${90 + n}.2/24`,
  });
  await ns.addRoute('default', { via: `10.200.${90 + n}.1` });
  return { ns, ifname: `${world.prefix}l${n}`, dir: world.harness.tempDir() };
}

async function redeem(
  on: { ns: Namespace; ifname: string; dir: string },
  invitation: string,
  waitSeconds: number,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const args = ['peer', 'redeem', invitation, '--interface', on.ifname, '--config-dir', on.dir, '--userspace'];
  return on.ns.exec(zmesh.file, zmeshArgs(zmesh, [...args, '--wait', String(waitSeconds)]), {
    check: false,
    timeoutMs: (waitSeconds * 2 + 30) * 1000,
    redactArgs: true, // the invitation is a secret
  });
}

/** The invitation texts this file made, by peer name. */
const invitations = new Map<string, string>();

async function invite(name: string, expires: string): Promise<string> {
  const text = (await net.tool('invite', ['--name', name, '--via', 'alpha', '--expires', expires])).trim();
  invitations.set(name, text);
  return text;
}

/** The admin's tool (signing with the world's admin key), its exit status checked by the caller. */
async function tool(...args: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return runCommand(zmesh.file, zmeshArgs(zmesh, args), { check: false, env: { ...world.admin.env } });
}

async function toolOk(...args: string[]): Promise<void> {
  const r = await tool(...args);
  if (r.exitCode !== 0) throw new Error(`zmesh ${args.slice(0, 2).join(' ')}: ${r.stderr.trim()}`);
}

const reaches = async (from: Namespace, to: string, port: number) => (await tcpProbe(from, to, port)) === 'connected';

test.serial('a laptop behind NAT redeems over the tunnel and reaches only what its group may', async (t) => {
  const invitation = await invite('laptop', '1h');
  const { address, secret } = parseInvitation(invitation);
  await toolOk('net', 'group', 'add', net.file, '--name', 'laptops', '--cidr', `${address}/32`);
  await toolOk('net', 'group', 'add', net.file, '--name', 'ga', '--cidr', net.subnetOf('alpha'));
  await toolOk('net', 'group', 'add', net.file, '--name', 'gb', '--cidr', net.subnetOf('beta'));
  await net.tool('associate', ['--from', 'laptops', '--to', 'gb', '--protocol', 'tcp', '--port', '8080']);
  await net.tool('associate', ['--from', 'ga', '--to', 'gb', '--both-ways']);
  await world.deploy(net);
  onAlpha = await world.attachWorkload(net, alpha);
  onBeta = await world.attachWorkload(net, beta);
  for (const w of [onAlpha, onBeta]) for (const port of [8080, 9090]) await startTcpListener(w.ns, '0.0.0.0', port);
  t.regex(await net.tool('show'), /laptop +10\.31\.255\.254 +alpha +pending/);

  const lap = await laptop();
  redeemed = lap.ns;
  const clash = await redeem({ ...lap, ifname: 'eth0' }, invitation, 5);
  t.is(clash.exitCode, 2, 'an existing interface is never taken over (nor deleted)');
  t.regex(clash.stderr, /--interface: an interface named eth0 exists already/);
  const done = await redeem(lap, invitation, 30);
  t.is(done.exitCode, 0, done.stderr);
  t.regex(done.stdout, /redeemed "laptop" in network "inv": \S+ is 10\.31\.255\.254 through alpha with its own key/);
  const conf = join(lap.dir, `${lap.ifname}.conf`);
  t.is(statSync(conf).mode & 0o777, 0o600);
  const config = readFileSync(conf, 'utf8');
  const permanent = /^PrivateKey = (\S+)$/m.exec(config)?.[1] ?? '';
  t.regex(permanent, /^[A-Za-z0-9+/]{43}=$/);
  t.false(config.includes(secret), 'the config holds the permanent key, not the temporary one');
  for (const text of [done.stdout, done.stderr, alpha.networkdLog(), readFileSync(net.file, 'utf8')]) {
    t.false(text.includes(secret), 'no temporary private key anywhere');
    t.false(text.includes(permanent), 'no permanent private key anywhere');
  }

  // Through alpha to beta:8080 only (the first connection may wait for the new key's handshake).
  await waitFor(() => reaches(lap.ns, onBeta.ip, 8080), { what: 'laptop → beta:8080', timeoutMs: 30_000 });
  t.false(await reaches(lap.ns, onBeta.ip, 9090), 'beta:9090 is not associated');
  t.false(await reaches(lap.ns, onAlpha.ip, 8080), "alpha's workload is not associated");
  t.false(await reaches(onBeta.ns, address, 22), 'beta may not open connections to the laptop');
  t.true(await reaches(onAlpha.ns, onBeta.ip, 9090), 'ga ↔ gb still flows');
});

test.serial(
  'refused with clear errors: a second redemption (the temporary key gets nothing through), an expired and a revoked invitation',
  async (t) => {
    const late = await invite('late', '3s');
    const gone = await invite('gone', '1h');
    await world.deploy(net);
    await net.tool('revoke', ['--name', 'gone']);
    await world.deploy(net);
    const { expires } = parseInvitation(late);
    await waitFor(() => Date.now() > Date.parse(expires) + 200, {
      what: 'the invitation to expire',
      timeoutMs: 10_000,
    });
    // Three laptops at once, each with its own interface behind the same NAT.
    const [second, expired, revoked] = await Promise.all([
      laptop().then((on) => redeem(on, invitations.get('laptop') ?? '', 6)),
      laptop().then((on) => redeem(on, late, 20)),
      laptop().then((on) => redeem(on, gone, 6)),
    ]);
    t.is(second.exitCode, 1);
    t.regex(
      second.stderr,
      /alpha knows the invitation's key but lets nothing through it: the invitation was already redeemed/,
    );
    t.is(expired.exitCode, 1);
    t.regex(
      expired.stderr,
      new RegExp(`alpha refused the redemption: the invitation for "late" expired at ${expires}`),
    );
    t.is(revoked.exitCode, 1);
    t.regex(
      revoked.stderr,
      /alpha \(198\.51\.100\.11:\d+\) never answered the invitation's key within 6 s: the invitation was revoked/,
    );
    t.regex(await net.tool('show'), /late +10\.31\.\d+\.\d+ +alpha +expired/);
    t.deepEqual((await alpha.api.getNetwork('inv')).redemptions?.length, 1, 'nothing recorded for the refusals');
  },
);

test.serial("the via node's report becomes the admin's next signed revision; the laptop keeps working", async (t) => {
  const reported = (await alpha.api.getNetwork('inv')).redemptions ?? [];
  t.is(reported.length, 1);
  const before = (net.definition() as { revision: number }).revision;
  t.regex(await net.tool('redeem', ['--redemption', reported[0]!]), /redeemed "laptop"/);
  const def = net.definition() as { revision: number; externalPeers: { name: string; publicKey?: string }[] };
  t.is(def.revision, before + 1);
  t.truthy(def.externalPeers.find((p) => p.name === 'laptop')?.publicKey, 'the definition carries the permanent key');
  t.regex(await net.tool('show'), /laptop +10\.31\.255\.254 +alpha +redeemed/);
  await world.deploy(net);
  await waitFor(async () => (await alpha.api.getNetwork('inv')).revision === def.revision, {
    what: 'alpha at the new revision',
    timeoutMs: 10_000,
  });
  t.true(await reaches(redeemed, onBeta.ip, 8080), 'the laptop still reaches beta:8080');
  t.false(await reaches(redeemed, onAlpha.ip, 8080), 'and still nothing else');
  const again = await tool('net', 'redeem', net.file, '--redemption', reported[0]!);
  t.is(again.exitCode, 2);
  t.regex(again.stderr, /already redeemed/);
});
