// How the simulated world runs the zmesh executable (the tool and networkd). From dist/ (the
// demo) it is bin/zmesh, the same entry point an operator uses; from src/ under tsx (the tests)
// it is src/cli/main.ts through tsx, so a test always runs the code it was written against,
// never a stale dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ZmeshInvocation {
  /** The program to start (node). */
  readonly file: string;
  /** Arguments before zmesh's own: the node flags and the script. */
  readonly leadingArgs: readonly string[];
}

/** The invocation matching the code this module was loaded from. */
export function defaultZmeshInvocation(): ZmeshInvocation {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    // Resolved here, not by the child: the child's working directory may be anywhere.
    const tsx = import.meta.resolve('tsx');
    return { file: process.execPath, leadingArgs: ['--import', tsx, fileURLToPath(new URL('../cli/main.ts', import.meta.url))] };
  }
  const bin = fileURLToPath(new URL('../../bin/zmesh', import.meta.url));
  return { file: process.execPath, leadingArgs: [existsSync(bin) ? bin : fileURLToPath(new URL('../cli/main.js', import.meta.url))] };
}

/** The full argv (after `file`) for `zmesh args...`. */
export function zmeshArgs(inv: ZmeshInvocation, args: readonly string[]): string[] {
  return [...inv.leadingArgs, ...args];
}
