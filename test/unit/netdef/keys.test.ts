// The one key model (src/netdef/keys.ts): parsing from wg(8)'s base64 and the UAPI's hex, the
// private key's clamping, the all-zero "no key" of the UAPI, redaction, and errors that name what
// was malformed without echoing it.
import test from 'ava';
import { inspect } from 'node:util';
import {
  KeyFormatError,
  PresharedKey,
  PrivateKey,
  PublicKey,
  ZERO_KEY_HEX,
  generateKeyPair,
  ready,
} from '../../../src/netdef/index.js';

test.before(async () => {
  await ready();
});

test('public keys round-trip through the base64 of wg(8) and the hex of the UAPI', (t) => {
  const { publicKey } = generateKeyPair();
  const key = PublicKey.fromBase64(publicKey);
  t.is(key.base64(), publicKey);
  t.regex(key.hex, /^[0-9a-f]{64}$/);
  t.true(PublicKey.fromHex(key.hex.toUpperCase()).equals(key), 'uppercase hex is the same key');
  t.is(String(key), publicKey);
});

test('the RFC 7748 private key of Alice gives her public key', (t) => {
  const alice = PrivateKey.fromHexOrClear('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')!;
  t.is(PublicKey.fromBase64(alice.publicKey()).hex, '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
});

test('private keys are stored clamped, from any encoding', (t) => {
  const key = PrivateKey.fromBytes(new Uint8Array(32).fill(0xff));
  t.is(key.bytes()[0], 0xf8);
  t.is(key.bytes()[31], 0x7f);
  t.true(PrivateKey.fromBase64(`${key.revealBase64()}\n`).equals(key), 'a key file line, newline and all');
  t.true(PrivateKey.fromHexOrClear('ff'.repeat(32))!.equals(key));
});

test('all-zero means "no key" on the UAPI and is refused as a key', (t) => {
  t.is(PrivateKey.fromHexOrClear(ZERO_KEY_HEX), null);
  t.is(PresharedKey.fromHexOrNone(ZERO_KEY_HEX), null);
  t.throws(() => PrivateKey.fromBytes(new Uint8Array(32)), { instanceOf: KeyFormatError, message: /all-zero/ });
  t.throws(() => PresharedKey.fromBytes(new Uint8Array(32)), { instanceOf: KeyFormatError, message: /all-zero/ });
});

test('secret keys redact themselves in strings, JSON and inspection', (t) => {
  const { privateKey } = generateKeyPair();
  const psk = PresharedKey.fromBytes(new Uint8Array(32).fill(9));
  t.is(String(privateKey), '[PrivateKey redacted]');
  t.is(JSON.stringify({ psk }), '{"psk":"[PresharedKey redacted]"}');
  t.false(inspect({ privateKey }).includes(privateKey.revealBase64()));
  t.false(JSON.stringify({ privateKey }).includes(privateKey.secretHex()));
});

test('a private key and a preshared key of the same bytes are not equal keys', (t) => {
  const bytes = new Uint8Array(32).fill(0x48); // already clamped
  t.true(PrivateKey.fromBytes(bytes).equals(PrivateKey.fromBytes(bytes)));
  t.false(PrivateKey.fromBytes(bytes).equals(PresharedKey.fromBytes(bytes) as unknown as PrivateKey));
});

test('malformed keys are refused with an error naming the key and not echoing the input', (t) => {
  const secretLooking = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk'; // 43 chars: one short
  const error = t.throws(() => PrivateKey.fromBase64(secretLooking, 'identity key'), { instanceOf: KeyFormatError });
  t.regex(error!.message, /^malformed identity key: /);
  t.false(error!.message.includes(secretLooking));
  t.throws(() => PublicKey.fromHex('zz'.repeat(32)), { instanceOf: KeyFormatError, message: /non-hex/ });
  t.throws(() => PublicKey.fromHex('ab'.repeat(31)), { instanceOf: KeyFormatError, message: /got 62 characters/ });
  t.throws(() => PublicKey.fromBytes(new Uint8Array(31)), { instanceOf: KeyFormatError, message: /32 bytes/ });
});

test('base64 keys are accepted only in canonical form', (t) => {
  const b64 = Buffer.alloc(32, 7).toString('base64');
  t.is(PublicKey.fromBase64(b64).hex, '07'.repeat(32));
  // Same bytes, non-zero padding bits in the last character: a second spelling of the key.
  const sloppy = `${b64.slice(0, 42)}${String.fromCharCode(b64.charCodeAt(42) + 1)}=`;
  t.throws(() => PublicKey.fromBase64(sloppy), { instanceOf: KeyFormatError });
});
