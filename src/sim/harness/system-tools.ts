// Resolution of system programs by absolute path. Under npm/npx, PATH starts
// with node_modules/.bin, which here contains an unrelated `nft` (@vercel/nft,
// a file tracer): `nft -f rules` would silently do nothing. Bare program names
// the harness runs are therefore looked up in the system directories first.
// Only programs declared in src/common/system-programs.ts are resolved: that
// map is what keeps scripts/setup installing everything the harness runs.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { isSystemProgram } from '../../common/system-programs.js';
import { HarnessError } from './errors.js';

export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

const cache = new Map<string, string>();

/** The absolute path of `name` in the system directories, or `name` unchanged (PATH lookup). */
export function systemTool(name: string): string {
  if (name.includes('/')) return name;
  const hit = cache.get(name);
  if (hit) return hit;
  if (!isSystemProgram(name)) {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `program '${name}' is not declared in src/common/system-programs.ts: ` +
        'add it there with the Debian package that provides it, and that package to scripts/setup',
      { program: name },
    );
  }
  for (const dir of SYSTEM_DIRS) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      cache.set(name, candidate);
      return candidate;
    } catch {
      // not here
    }
  }
  return name;
}
