// How the simulated world runs the zmesh executable (the tool, networkd and, through networkd,
// wgd). From dist/ (the demo) it is bin/zmesh, the same entry point an operator uses. From src/
// under tsx (the tests) it is bin/zmesh too when dist/ is fresh — every src/**/*.ts compiled and
// unchanged since the last build — because a daemon under tsx costs ~1 s of CPU more
// per start on this 2-core machine; otherwise src/cli/main.ts through tsx, so a test never runs
// a stale dist/. ZMESH_SIM_ZMESH=src|dist forces one (dist: even when stale).
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ZmeshInvocation {
  /** The program to start (node). */
  readonly file: string;
  /** Arguments before zmesh's own: the node flags and the script. */
  readonly leadingArgs: readonly string[];
  /** How long one tool command (`zmesh node init`, `zmesh net ...`) may take (default 30 s; a guest kernel under emulation needs more). */
  readonly toolTimeoutMs?: number;
}

/**
 * True when every `.ts` source under `srcDir` has its `.js` under `distDir` and was last changed
 * before the last build (`tsc` is incremental: it rewrites only outputs whose source text changed,
 * but always records the build in its build-info file, so that file's mtime is the build's time).
 */
export function distIsFresh(srcDir: string, distDir: string, builtAtMs = buildTimeMs(distDir)): boolean {
  if (builtAtMs === null) return false;
  let entries;
  try {
    entries = readdirSync(srcDir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const entry of entries) {
    const source = join(srcDir, entry.name);
    if (entry.isDirectory()) {
      if (!distIsFresh(source, join(distDir, entry.name), builtAtMs)) return false;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      if (!existsSync(join(distDir, entry.name.replace(/\.ts$/, '.js')))) return false;
      try {
        if (statSync(source).mtimeMs > builtAtMs) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/** When tsc last built into distDir (its build-info file, tsconfig.json's tsBuildInfoFile), or null. */
function buildTimeMs(distDir: string): number | null {
  try {
    return statSync(join(distDir, '.tsbuildinfo')).mtimeMs;
  } catch {
    return null;
  }
}

function distInvocation(): ZmeshInvocation {
  const bin = fileURLToPath(new URL('../../bin/zmesh', import.meta.url));
  return {
    file: process.execPath,
    leadingArgs: [existsSync(bin) ? bin : fileURLToPath(new URL('../cli/main.js', import.meta.url))],
  };
}

/** The invocation matching the code this module was loaded from (see the top comment). */
export function defaultZmeshInvocation(env: NodeJS.ProcessEnv = process.env): ZmeshInvocation {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return distInvocation();
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const choice = env['ZMESH_SIM_ZMESH'];
  if (choice === 'dist' || (choice !== 'src' && distIsFresh(join(root, 'src'), join(root, 'dist')))) {
    return { file: process.execPath, leadingArgs: [join(root, 'bin', 'zmesh')] };
  }
  // Resolved here, not by the child: the child's working directory may be anywhere.
  const tsx = import.meta.resolve('tsx');
  return { file: process.execPath, leadingArgs: ['--import', tsx, join(root, 'src', 'cli', 'main.ts')] };
}

/** The full argv (after `file`) for `zmesh args...`. */
export function zmeshArgs(inv: ZmeshInvocation, args: readonly string[]): string[] {
  return [...inv.leadingArgs, ...args];
}

/**
 * How zmesh-cni is run, as defaultZmeshInvocation decides for zmesh: bin/zmesh-cni (compiled) when
 * dist/ is fresh or forced, else src/cni/main.ts through tsx.
 */
export function defaultCniInvocation(env: NodeJS.ProcessEnv = process.env): ZmeshInvocation {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const here = fileURLToPath(import.meta.url);
  const choice = env['ZMESH_SIM_ZMESH'];
  if (
    !here.endsWith('.ts') ||
    choice === 'dist' ||
    (choice !== 'src' && distIsFresh(join(root, 'src'), join(root, 'dist')))
  ) {
    return { file: process.execPath, leadingArgs: [join(root, 'bin', 'zmesh-cni')] };
  }
  return {
    file: process.execPath,
    leadingArgs: ['--import', import.meta.resolve('tsx'), join(root, 'src', 'cni', 'main.ts')],
  };
}

/**
 * Writes `dir/zmesh-cni`, an executable that runs the plugin as `invocation` says: what a CNI
 * plugin directory must hold for a runtime (podman, libcni) to find the plugin by its type.
 */
export function writeCniPluginExecutable(dir: string, invocation: ZmeshInvocation = defaultCniInvocation()): string {
  const file = join(dir, 'zmesh-cni');
  const quoted = [invocation.file, ...invocation.leadingArgs].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  writeFileSync(file, `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
  return file;
}
