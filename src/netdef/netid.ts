/**
 * The short stable id of a network and what is derived from it. `n-<netid>` names the NR
 * namespace on every node and the base listen port is taken from the same hash, so both must
 * never change for a given name: the derivation below is frozen.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const NET_ID_LENGTH = 8;
export const BASE_PORT_MIN = 20000;
export const BASE_PORT_SPAN = 40000; // base ports lie in [20000, 59999]

/** The first 40 bits of SHA-256(UTF-8 name), as a number. */
function hash40(name: string): number {
  const digest = sha256(utf8ToBytes(name));
  let value = 0;
  for (let i = 0; i < 5; i++) value = value * 256 + (digest[i] ?? 0);
  return value;
}

/** 8 lowercase RFC 4648 base32 characters of SHA-256(name): the network's namespace id. */
export function netIdOf(name: string): string {
  let value = hash40(name);
  let text = '';
  for (let i = 0; i < NET_ID_LENGTH; i++) {
    text = BASE32[value % 32] + text;
    value = Math.floor(value / 32);
  }
  return text;
}

/** The first listen port add-node tries for this network, in [20000, 59999]. */
export function basePortOf(name: string): number {
  return BASE_PORT_MIN + (hash40(name) % BASE_PORT_SPAN);
}
