/**
 * scripts/setup installs every program that the product, the tests, the demo, the benchmarks and
 * the scripts run. The programs are read out of the sources (spawned-programs.ts), held against
 * the one map of program → Debian package (src/common/system-programs.ts), the map against this
 * machine's dpkg database, and each package against what installs it.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { PREREQUISITE_PACKAGES, SYSTEM_PROGRAMS, isSystemProgram } from '../../../src/common/system-programs.js';
import { SYSTEM_DIRS, systemTool } from '../../../src/sim/harness/system-tools.js';
import { programsInShell, programsInTypeScript, type ProgramUse } from './spawned-programs.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCANNED_DIRS = ['src', 'test', 'scripts', 'bin', '.ci'];
/** Programs that only scripts/kvm (the guest-kernel runner) runs may come from scripts/kvm/setup. */
const KVM_DIR = 'scripts/kvm/';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = join(dir, entry);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

let scanned: ProgramUse[] | undefined;

/** Every program use in the repository's code and scripts (read once per run). */
function programUses(): ProgramUse[] {
  scanned ??= scanRepository();
  return scanned;
}

function scanRepository(): ProgramUse[] {
  const uses: ProgramUse[] = [];
  for (const file of SCANNED_DIRS.flatMap(filesUnder)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const firstLine = text.slice(0, text.indexOf('\n'));
    const isTypeScript = /\.(ts|js|mjs)$/.test(file) || /^#!.*\bnode\b/.test(firstLine);
    // Shell scripts, and the sourced ones without a #! line (scripts/kvm/guest-init).
    const sourced = /\.sh$|^[^.]*$/.test(basename(file)) && !file.startsWith('test/');
    const isShell = /^#!.*\b(ba)?sh\b/.test(firstLine) || sourced;
    if (isTypeScript) uses.push(...programsInTypeScript(text, file));
    else if (isShell) uses.push(...programsInShell(text, file));
  }
  return uses;
}

function setupPackages(script: string, pattern: RegExp): Set<string> {
  const text = readFileSync(join(ROOT, script), 'utf8');
  const lists = [...text.matchAll(pattern)].map((m) => (m[1] as string).replace(/#.*$/gm, ''));
  return new Set(lists.flatMap((list) => list.split(/\s+/).filter(Boolean)));
}

const SETUP_PACKAGES = () => setupPackages('scripts/setup', /^PACKAGES=\(([^)]*)\)/gm);
const KVM_SETUP_PACKAGES = () => setupPackages('scripts/kvm/setup', /need_apt\+=\(([^)]*)\)/g);

function packageState(name: string): { installed: boolean; priority: string } {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}\t${Priority}', name], { encoding: 'utf8' });
  const [status = '', priority = ''] = r.status === 0 ? r.stdout.split('\t') : [];
  return { installed: status.endsWith('install ok installed'), priority };
}

function findProgram(name: string): string | null {
  for (const dir of SYSTEM_DIRS) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

/** The packages dpkg says own `path` (following symlinks and /usr merging), or [] when none does. */
/** The packages that ship the program: its file's and, when it is a link, the link's (clang-format → clang-format-14). */
function owningPackages(path: string): string[] {
  const real = realpathSync(path);
  const candidates = [real, path].flatMap((p) => [p, p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`]);
  const owners = new Set<string>();
  for (const candidate of candidates) {
    const r = spawnSync('dpkg', ['-S', candidate], { encoding: 'utf8' });
    const line = r.status === 0 ? r.stdout.split('\n').find((l) => !l.startsWith('diversion')) : undefined;
    if (line) for (const pkg of line.slice(0, line.lastIndexOf(': ')).split(', ')) owners.add(pkg.replace(/:.*$/, ''));
  }
  return [...owners];
}

test('the collector finds the programs of shell scripts, not their data, functions or builtins', (t) => {
  const script = [
    '#!/usr/bin/env bash',
    'set -euo pipefail',
    'IP=/usr/sbin/ip',
    'helper() { frob-a --x; }',
    'trap \'frob-b -f "$tmp"\' EXIT',
    'dir=$(cd "$(dirname "$0")" && frob-c)',
    'cat > "$tmp/rules" <<\'T\'',
    'table inet zmesh { chain input { drop } }',
    'T',
    'case "$1" in',
    '  *.xz|*.gz) frob-d -dc "$f" > out ;;',
    '  *) helper ;;',
    'esac',
    'command -v frob-e >/dev/null || exec frob-f "$@"',
    '$IP netns exec "$ns" frob-g -w 1 \\',
    '  --long',
    'for m in a b; do X=1 frob-h 2>&1 | frob-i; done',
  ].join('\n');
  const found = programsInShell(script, 's').map((u) => u.program);
  const frobs = ['frob-a', 'frob-b', 'frob-c', 'frob-d', 'frob-f', 'frob-g', 'frob-h', 'frob-i'];
  t.deepEqual([...new Set(found)].sort(), ['bash', 'cat', 'dirname', 'env', 'ip', ...frobs].sort());
  t.true(programsInShell('  *.xz) frob-d x ;;', 's').length > 0, 'a pattern line outside case is a command line');
});

test('the collector finds the programs of TypeScript spawns, wherever they are named', (t) => {
  const source = `
    const WG = '/usr/bin/frob-a';
    spawn('frob-b', ['-x']);
    await ns.exec('frob-c', []);
    new BackgroundProcess(systemTool('frob-d'), ['netns', 'exec', name, 'frob-e']);
    w.spawn(ns, 'frob-f', []);
    execa('/usr/bin/nsenter', ['--net=x', '--', 'frob-g']);
    run(['frob-h', '-p', dir]);
    a.spawn('sh', ['-c', 'trap "" TERM; frob-i 300 & wait']);
    db.exec('CREATE TABLE t (x)');
    await this.tool('create', ['--name', n]);
    /re/.exec(line);
  `;
  const found = programsInTypeScript(source, 'x.ts').map((u) => u.program);
  const frobs = ['frob-a', 'frob-b', 'frob-c', 'frob-d', 'frob-e', 'frob-f', 'frob-g', 'frob-h', 'frob-i'];
  t.deepEqual([...new Set(found)].sort(), ['nsenter', 'sh', ...frobs].sort());
});

test('systemTool resolves declared programs and refuses any other name', (t) => {
  t.is(systemTool('ip'), findProgram('ip') ?? 'ip');
  t.is(systemTool('/opt/x/bin/thing'), '/opt/x/bin/thing');
  const undeclared = 'frobnicate';
  const e = t.throws(() => systemTool(undeclared));
  t.regex(e?.message ?? '', /'frobnicate' is not declared in src\/common\/system-programs\.ts.*scripts\/setup/);
});

test('every program the code, tests and scripts run is declared with its package', (t) => {
  const undeclared = programUses().filter((u) => !isSystemProgram(u.program));
  t.deepEqual(
    undeclared.map((u) => `${u.program} (${u.where})`),
    [],
    'add these to src/common/system-programs.ts',
  );
});

test('every declared program is run somewhere (the map holds no stale entries)', (t) => {
  const used = new Set(programUses().map((u) => u.program));
  t.deepEqual(
    Object.keys(SYSTEM_PROGRAMS).filter((p) => !used.has(p)),
    [],
  );
});

test('every declared package is in the base system or in scripts/setup (scripts/kvm alone: kvm/setup)', (t) => {
  const setup = SETUP_PACKAGES();
  const kvmSetup = KVM_SETUP_PACKAGES();
  t.true(setup.has('tcpdump') && setup.has('iproute2'), `scripts/setup's PACKAGES was read: ${[...setup].join(' ')}`);
  t.true(kvmSetup.has('qemu-system-x86'), `scripts/kvm/setup's packages were read: ${[...kvmSetup].join(' ')}`);
  const uses = programUses();
  const problems: string[] = [];
  for (const [program, pkg] of Object.entries(SYSTEM_PROGRAMS)) {
    if (setup.has(pkg) || PREREQUISITE_PACKAGES.includes(pkg)) continue;
    const where = uses.filter((u) => u.program === program).map((u) => u.where);
    if (kvmSetup.has(pkg)) {
      const outside = where.filter((w) => !w.startsWith(KVM_DIR));
      if (outside.length === 0) continue;
      problems.push(`${program} (${pkg}) is run outside scripts/kvm (${outside}); only scripts/kvm/setup installs it`);
      continue;
    }
    const state = packageState(pkg);
    if (!(state.installed && state.priority === 'required')) {
      const priority = state.priority || 'unknown';
      problems.push(`${program}: package ${pkg} (priority ${priority}) is in neither the base system nor setup`);
    }
  }
  t.deepEqual(problems, []);
});

test('where a declared program is installed, dpkg says the declared package provides it', (t) => {
  const problems: string[] = [];
  const absent: string[] = [];
  for (const [program, pkg] of Object.entries(SYSTEM_PROGRAMS)) {
    const path = findProgram(program);
    if (path === null) {
      if (!packageState(pkg).installed) absent.push(`${program} (${pkg})`);
      else problems.push(`${program}: ${pkg} is installed but has no ${program} in ${SYSTEM_DIRS}`);
      continue;
    }
    const owners = owningPackages(path);
    if (owners.includes(pkg)) continue;
    problems.push(`${program}: ${path} belongs to ${owners.join(', ') || 'no package'}, not ${pkg}`);
  }
  if (absent.length > 0) t.log(`not installed here, so not checked: ${absent.join(', ')}`);
  t.deepEqual(problems, []);
  // Most of the map must have been checked, or this test proved nothing.
  const enough = absent.length < Object.keys(SYSTEM_PROGRAMS).length / 4;
  t.true(enough, `too few programs installed to check: ${absent.join(', ')}`);
});

test("every package scripts/setup names exists in this machine's package lists or is installed", (t) => {
  const unknown = [...SETUP_PACKAGES()].filter((p) => {
    if (packageState(p).installed) return false;
    const r = spawnSync('apt-cache', ['show', '--no-all-versions', p], { encoding: 'utf8' });
    return r.status !== 0 || r.stdout.trim() === '';
  });
  t.deepEqual(unknown, []);
});
