// Resolution of system programs by absolute path. Under npm/npx, PATH starts
// with node_modules/.bin, which here contains an unrelated `nft` (@vercel/nft,
// a file tracer): `nft -f rules` would silently do nothing. Bare program names
// the harness runs are therefore looked up in the system directories first.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

const cache = new Map<string, string>();

/** The absolute path of `name` in the system directories, or `name` unchanged (PATH lookup). */
export function systemTool(name: string): string {
  if (name.includes('/')) return name;
  const hit = cache.get(name);
  if (hit) return hit;
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
