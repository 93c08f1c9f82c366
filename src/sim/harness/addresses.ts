// Parsing of the addresses and prefixes the harness hands to ip(8): checked
// here so a typo fails with the field's name instead of ip's terse message.
import { isIP } from 'node:net';
import { HarnessError } from './errors.js';

/** "10.0.0.1/24" or "fd00::1/64": an address with its prefix length. */
export function checkCidr(value: string, field = 'address'): string {
  const slash = value.indexOf('/');
  const addr = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(addr);
  const bits = slash < 0 ? NaN : Number(value.slice(slash + 1));
  const max = family === 6 ? 128 : 32;
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > max || !/^\d+$/.test(value.slice(slash + 1))) {
    throw new HarnessError(
      'INVALID_ARGUMENT',
      `${field} '${value}' is not an address with a prefix length (e.g. 10.0.0.1/24)`,
      {
        field,
        value,
      },
    );
  }
  return value;
}

/** A bare IPv4 or IPv6 address. */
export function checkAddress(value: string, field = 'address'): string {
  if (isIP(value) === 0) {
    throw new HarnessError('INVALID_ARGUMENT', `${field} '${value}' is not an IPv4 or IPv6 address`, { field, value });
  }
  return value;
}

/** A route destination: "default" or a CIDR. */
export function checkRouteDestination(value: string, field = 'destination'): string {
  return value === 'default' ? value : checkCidr(value, field);
}

/** The address part of a CIDR. */
export function addressOf(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}
