// Names of what a run creates. Every namespace carries the run's prefix so a
// leftover can be traced to its run (and swept when that run is dead), and so
// that nothing of ours can be mistaken for an object the machine owns. Linux
// limits interface names to 15 bytes; the default prefix is 6 bytes ("zt" + 4
// base32 chars, ~1M values), which leaves 9 for a short name.
import { randomBytes } from 'node:crypto';
import { HarnessError } from './errors.js';

/** Longest Linux interface name (IFNAMSIZ - 1). */
export const MAX_IFNAME_BYTES = 15;
/** Namespace names are file names under /run/netns; we keep them short anyway. */
export const MAX_NETNS_NAME_BYTES = 32;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const PREFIX_RE = /^[a-z][a-z0-9]{2,7}$/;
const SHORT_NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;
// What the kernel accepts (dev_valid_name) minus what would confuse shells and ip(8).
const IFNAME_RE = /^[A-Za-z0-9_.@+-]+$/;

/** A fresh random run prefix: "zt" followed by 4 lowercase base32 characters. */
export function randomRunPrefix(lead = 'zt'): string {
  const bytes = randomBytes(4);
  let out = lead;
  for (const b of bytes) out += BASE32[b & 31];
  checkPrefix(out);
  return out;
}

/** A prefix is 3–8 chars, lowercase letters and digits, starting with a letter. */
export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `prefix '${prefix}' is invalid: use 3-8 lowercase letters/digits starting with a letter`,
      { field: 'prefix', value: prefix },
    );
  }
  return prefix;
}

/** The short part of a namespace name ("a", "nat1", "internet"). */
export function checkShortName(short: string, field = 'name'): string {
  if (!SHORT_NAME_RE.test(short)) {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `${field} '${short}' is invalid: use lowercase letters, digits, '-' or '_'`,
      { field, value: short },
    );
  }
  return short;
}

export function checkNetnsName(name: string, field = 'namespace'): string {
  if (Buffer.byteLength(name) > MAX_NETNS_NAME_BYTES) {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `${field} '${name}' is ${Buffer.byteLength(name)} bytes; at most ${MAX_NETNS_NAME_BYTES}`,
      { field, value: name },
    );
  }
  return name;
}

/** A Linux interface name: 1–15 bytes, no '/', ':' or whitespace, not "." or "..". */
export function checkIfname(name: string, field = 'interface'): string {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes > MAX_IFNAME_BYTES) {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `${field} '${name}' is ${bytes} bytes; Linux interface names are 1-${MAX_IFNAME_BYTES} bytes`,
      { field, value: name },
    );
  }
  if (!IFNAME_RE.test(name) || name === '.' || name === '..') {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `${field} '${name}' is not a valid interface name (letters, digits and _ . @ + - only)`,
      { field, value: name },
    );
  }
  return name;
}
