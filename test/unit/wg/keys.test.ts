import test from 'ava';
import { ready } from '../../../src/wg/crypto.js';
import {
  generatePrivateKey,
  KeyError,
  keyFromBase64,
  keyFromBytes,
  keyFromHex,
  keyToBase64,
  keyToHex,
  privateKeyFromBytes,
  publicKeyOf,
} from '../../../src/wg/keys.js';

test.before(async () => {
  await ready();
});

test('keys round-trip through the base64 of wg(8) and the hex of the UAPI', (t) => {
  const key = generatePrivateKey();
  t.deepEqual(keyFromBase64(keyToBase64(key)), key);
  t.deepEqual(keyFromHex(keyToHex(key)), key);
  t.is(keyToBase64(key).length, 44);
  t.regex(keyToHex(key), /^[0-9a-f]{64}$/);
});

test('the RFC 7748 private key of Alice gives her public key', (t) => {
  const alice = privateKeyFromBytes(
    new Uint8Array(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex')),
  );
  t.is(keyToHex(publicKeyOf(alice)), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
});

test('private keys are stored clamped', (t) => {
  const key = privateKeyFromBytes(new Uint8Array(32).fill(0xff));
  t.is(key[0], 0xf8);
  t.is(key[31], 0x7f);
});

test('malformed keys are refused with an error naming the field and not echoing the input', (t) => {
  const secretLooking = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk'; // 43 chars: one short
  const error = t.throws(() => keyFromBase64(secretLooking, 'private_key'), { instanceOf: KeyError });
  t.is(error?.field, 'private_key');
  t.false(error!.message.includes(secretLooking));
  t.throws(() => keyFromHex('zz'.repeat(32), 'public_key'), { instanceOf: KeyError, message: /public_key/ });
  t.throws(() => keyFromHex('ab'.repeat(31)), { instanceOf: KeyError });
  t.throws(() => keyFromBytes(new Uint8Array(31)), { instanceOf: KeyError, message: /32 bytes/ });
  t.throws(() => privateKeyFromBytes(new Uint8Array(32)), { instanceOf: KeyError, message: /all-zero/ });
  // a base64 string whose last character carries non-zero padding bits does not encode exactly 32 bytes
  t.throws(() => keyFromBase64('A'.repeat(42) + 'B='), { instanceOf: KeyError });
});
