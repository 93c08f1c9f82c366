// networkd's WireGuard backend choice (`--wg auto|kernel|userspace`): the decision with the
// kernel probe injected, the real probe against this kernel, and `zmesh networkd --wg kernel`
// refusing to start — naming --wg and creating nothing — where the kernel has no WireGuard.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseBackend, probeKernelWireGuard, type KernelWireGuardProbe } from '../../../src/networkd/daemon.js';
import { NetworkdError } from '../../../src/networkd/errors.js';
import { KernelWgError } from '../../../src/nr/wireguard/kernel/index.js';

/** A probe that answers `answer` and counts how often it was asked. */
function probe(answer: boolean | Error): KernelWireGuardProbe & { calls: number } {
  const p = Object.assign(
    () => {
      p.calls++;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    { calls: 0 },
  );
  return p;
}

const probeFailure = (): KernelWgError =>
  new KernelWgError('EPERM', 1, 'kernel WireGuard probe: open generic netlink socket: Operation not permitted', {
    operation: 'probe',
  });

test('--wg userspace is userspace without asking the kernel', (t) => {
  const p = probe(true);
  t.is(chooseBackend('userspace', p), 'userspace');
  t.is(p.calls, 0);
});

test('--wg auto is kernel when the wireguard family resolves and userspace when it does not', (t) => {
  t.is(chooseBackend('auto', probe(true)), 'kernel');
  const lines: string[] = [];
  t.is(
    chooseBackend('auto', probe(false), (l) => lines.push(l)),
    'userspace',
  );
  t.deepEqual(lines, [], 'a kernel without WireGuard is the normal case for auto: nothing to log');
});

test('--wg auto falls back to userspace and logs why when the probe itself fails', (t) => {
  const lines: string[] = [];
  t.is(
    chooseBackend('auto', probe(probeFailure()), (l) => lines.push(l)),
    'userspace',
  );
  t.is(lines.length, 1);
  t.regex(
    lines[0] ?? '',
    /could not be probed \(kernel WireGuard probe: open generic netlink socket: Operation not permitted\): using userspace/,
  );
});

test('--wg kernel is kernel when the family resolves', (t) => {
  t.is(chooseBackend('kernel', probe(true)), 'kernel');
});

test('--wg kernel on a kernel without WireGuard is an EINVAL naming --wg and the missing family', (t) => {
  const error = t.throws(() => chooseBackend('kernel', probe(false)), { instanceOf: NetworkdError });
  t.is(error?.code, 'EINVAL');
  t.is(error?.context.field, '--wg');
  t.is(
    error?.message,
    '--wg: kernel WireGuard is not available: this kernel has no generic netlink family "wireguard" (load the wireguard module, or use --wg userspace or auto)',
  );
});

test('--wg kernel when the probe fails is an EINVAL naming --wg and the probe failure', (t) => {
  const error = t.throws(() => chooseBackend('kernel', probe(probeFailure())), { instanceOf: NetworkdError });
  t.is(error?.context.field, '--wg');
  t.regex(
    error?.message ?? '',
    /^--wg: kernel WireGuard could not be probed: kernel WireGuard probe: open generic netlink socket: Operation not permitted/,
  );
  // A foreign error's text is not repeated (it could carry anything).
  const foreign = t.throws(() => chooseBackend('kernel', probe(new Error('secret-looking text'))), {
    instanceOf: NetworkdError,
  });
  t.false(foreign?.message.includes('secret-looking'));
});

test('the real probe asks this kernel through netlink and agrees with whether the wireguard module is present', (t) => {
  t.is(probeKernelWireGuard(), existsSync('/sys/module/wireguard'));
});

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

// Where the kernel has WireGuard the refusal cannot happen (test/kvm covers the kernel backend there).
const withoutWireGuard = existsSync('/sys/module/wireguard') ? test.skip : test;

withoutWireGuard(
  'zmesh networkd --wg kernel on this kernel without WireGuard fails with the --wg error and creates nothing',
  async (t) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'zmesh-wgchoice-'));
    t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
    const result = await execa(
      'node',
      ['--import', tsx, main, 'networkd', '--state-dir', stateDir, '--prefix', 'zq', '--wg', 'kernel'],
      { reject: false, timeout: 30_000 },
    );
    t.not(result.exitCode, 0);
    t.regex(
      result.stderr,
      /--wg.*kernel WireGuard is not available: this kernel has no generic netlink family "wireguard"/,
    );
    t.deepEqual(readdirSync(stateDir), [], 'nothing written to the state dir');
    t.false(existsSync('/run/netns/zqndmz'), 'no ndmz made');
  },
);
