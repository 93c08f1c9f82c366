/**
 * Per-namespace sysctls (`net.*` only: every other key is global to the machine and refused).
 * The addon opens /proc/sys/net/... from inside the namespace, because those files are bound to
 * the namespace of the thread that opens them.
 */
import { native } from '../../native/binding.js';
import { invalidArgument, kernelErrorFrom } from './errors.js';

const KEY_RE = /^net(\.[A-Za-z0-9_/-]+)+$/;
const VALUE_RE = /^[A-Za-z0-9 _.:\-\t]{0,256}$/;

/** Sets `key` (e.g. "net.ipv4.ip_forward") to `value` in the namespace at `netnsPath` (null: the caller's). */
export function setSysctl(netnsPath: string | null, key: string, value: string | number): void {
  const ctx = { operation: 'set sysctl', object: `${key}=${String(value)}`, netns: netnsPath };
  checkKey(key, ctx);
  const text = String(value);
  if (!VALUE_RE.test(text))
    throw invalidArgument(ctx, 'value', `'${text}' has unexpected characters or is longer than 256`);
  try {
    native().writeSysctl(netnsPath, key, text);
  } catch (e) {
    throw kernelErrorFrom(e, ctx);
  }
}

/** The value of `key` as seen in the namespace (trailing newline removed). */
export function getSysctl(netnsPath: string | null, key: string): string {
  const ctx = { operation: 'read sysctl', object: key, netns: netnsPath };
  checkKey(key, ctx);
  try {
    return native().readSysctl(netnsPath, key);
  } catch (e) {
    throw kernelErrorFrom(e, ctx);
  }
}

function checkKey(key: string, ctx: { operation: string; object: string; netns: string | null }): void {
  if (typeof key !== 'string' || !KEY_RE.test(key) || key.split('.').some((c) => c === '' || c === '..')) {
    throw invalidArgument(ctx, 'key', `'${String(key)}' refused: only per-namespace net.* keys may be used`);
  }
}
