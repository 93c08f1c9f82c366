import test from 'ava';
import { blake2s } from '@noble/hashes/blake2.js';
import {
  AEAD,
  AEAD_OPEN,
  aeadNonce,
  DH,
  DH_GENERATE,
  DH_PUBLIC,
  HASH,
  HMAC,
  KDF1,
  KDF2,
  KDF3,
  MAC,
  ready,
  XAEAD,
  XAEAD_OPEN,
} from '../../../src/wg/crypto.js';
import { CONSTRUCTION, IDENTIFIER } from '../../../src/wg/constants.js';
import { INITIAL_CHAINING_KEY, INITIAL_HASH } from '../../../src/wg/noise.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (s: string) => new TextEncoder().encode(s);

test.before(async () => {
  await ready();
});

// RFC 7748 section 5.2 (first vector) and section 6.1 (Alice and Bob).
test('DH matches the RFC 7748 X25519 vectors', (t) => {
  t.is(
    toHex(
      DH(
        hex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'),
        hex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'),
      )!,
    ),
    'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  );
  const alicePrivate = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bobPrivate = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  t.is(toHex(DH_PUBLIC(alicePrivate)), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  t.is(toHex(DH_PUBLIC(bobPrivate)), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  t.is(toHex(DH(alicePrivate, DH_PUBLIC(bobPrivate))!), shared);
  t.is(toHex(DH(bobPrivate, DH_PUBLIC(alicePrivate))!), shared);
});

test('DH rejects an all-zero result from a low-order public key', (t) => {
  const { privateKey } = DH_GENERATE();
  t.is(DH(privateKey, new Uint8Array(32)), null);
  const orderOne = new Uint8Array(32);
  orderOne[0] = 1; // u = 1 is a point of small order: a clamped scalar (a multiple of 8) maps it to zero
  t.is(DH(privateKey, orderOne), null);
});

test('DH_GENERATE clamps the private key and returns its public key', (t) => {
  const fixed = new Uint8Array(32).fill(0xff);
  const { privateKey, publicKey } = DH_GENERATE(() => fixed.slice());
  t.is(privateKey[0]! & 7, 0);
  t.is(privateKey[31]! & 0x80, 0);
  t.is(privateKey[31]! & 0x40, 0x40);
  t.deepEqual(publicKey, DH_PUBLIC(privateKey));
});

const SUNSCREEN =
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

// RFC 8439 section 2.8.2: the nonce there is 07000000 ‖ 4041424344454647, i.e. constant 7 then an 8-byte IV.
test('the ChaCha20-Poly1305 under AEAD matches the RFC 8439 section 2.8.2 vector', async (t) => {
  const sodium = (await import('libsodium-wrappers')).default;
  await sodium.ready; // the reference library: src/wg/crypto.ts uses the native one
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('070000004041424344454647');
  const ad = hex('50515253c0c1c2c3c4c5c6c7');
  const expected =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  t.is(toHex(sodium.crypto_aead_chacha20poly1305_ietf_encrypt(text(SUNSCREEN), ad, null, nonce, key)), expected);
});

test('AEAD uses the WireGuard nonce (4 zero bytes, little-endian 64-bit counter) and round-trips', (t) => {
  t.is(toHex(aeadNonce(0x0102030405060708n)), '000000000807060504030201');
  const key = new Uint8Array(32).fill(7);
  const sealed = AEAD(key, 5n, text('hello'), text('ad'));
  t.is(sealed.length, 5 + 16);
  t.deepEqual(AEAD_OPEN(key, 5n, sealed, text('ad')), text('hello'));
  t.is(AEAD_OPEN(key, 6n, sealed, text('ad')), null, 'another counter fails');
  t.is(AEAD_OPEN(key, 5n, sealed, text('AD')), null, 'another authtext fails');
  const tampered = sealed.slice();
  tampered[0]! ^= 1;
  t.is(AEAD_OPEN(key, 5n, tampered, text('ad')), null, 'a flipped bit fails');
  t.is(AEAD_OPEN(key, 5n, new Uint8Array(3), text('ad')), null, 'shorter than a tag fails without throwing');
});

// draft-irtf-cfrg-xchacha-03 appendix A.3.1.
test('XAEAD matches the XChaCha20-Poly1305 vector of draft-irtf-cfrg-xchacha A.3.1', (t) => {
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
  const ad = hex('50515253c0c1c2c3c4c5c6c7');
  const expected =
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49';
  const sealed = XAEAD(key, nonce, text(SUNSCREEN), ad);
  t.is(toHex(sealed), expected);
  t.deepEqual(XAEAD_OPEN(key, nonce, sealed, ad), text(SUNSCREEN));
  t.is(XAEAD_OPEN(key, nonce, sealed, new Uint8Array(0)), null);
});

test('HASH matches BLAKE2s-256 of "abc" from RFC 7693 appendix B', (t) => {
  t.is(toHex(HASH(text('abc'))), '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  t.is(
    toHex(HASH(text('a'), text('bc'))),
    toHex(HASH(text('abc'))),
    'HASH of several inputs hashes their concatenation',
  );
});

// BLAKE2 reference blake2s-kat (keyed): key 00..1f, input 00..(n-1).
test('keyed BLAKE2s matches the reference blake2s-kat keyed vectors for inputs of 0, 1, 64 and 255 bytes', (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const input = Uint8Array.from({ length: 255 }, (_, i) => i);
  const kat: [number, string][] = [
    [0, '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49'],
    [1, '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1'],
    [64, '8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4'],
    [255, '3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd'],
  ];
  for (const [length, expected] of kat)
    t.is(toHex(blake2s(input.subarray(0, length), { key })), expected, `length ${length}`);
});

test('MAC is keyed BLAKE2s with a 16-byte output, not a truncation of the 32-byte one', (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const mac = MAC(key, text('abc'));
  t.is(mac.length, 16);
  t.notDeepEqual(
    mac,
    blake2s(text('abc'), { key }).subarray(0, 16),
    'the output length is part of the BLAKE2s parameters',
  );
  t.deepEqual(mac, blake2s(text('abc'), { key, dkLen: 16 }));
});

test('HMAC is RFC 2104 over BLAKE2s with a 64-byte block, recomputed step by step', (t) => {
  const key = text('key');
  const message = text('The quick brown fox');
  const block = new Uint8Array(64);
  block.set(key);
  const inner = blake2s(new Uint8Array([...block.map((b) => b ^ 0x36), ...message]));
  const outer = blake2s(new Uint8Array([...block.map((b) => b ^ 0x5c), ...inner]));
  t.deepEqual(HMAC(key, message), outer);
});

test('KDF1/2/3 chain HMAC as the paper defines (T0 = HMAC(key, input), Ti = HMAC(T0, Ti-1 ‖ i))', (t) => {
  const key = HASH(text('chaining key'));
  const input = text('input key material');
  const t0 = HMAC(key, input);
  const t1 = HMAC(t0, Uint8Array.of(1));
  const t2 = HMAC(t0, new Uint8Array([...t1, 2]));
  const t3 = HMAC(t0, new Uint8Array([...t2, 3]));
  t.deepEqual(KDF1(key, input), [t1]);
  t.deepEqual(KDF2(key, input), [t1, t2]);
  t.deepEqual(KDF3(key, input), [t1, t2, t3]);
});

test('the handshake starts from C = HASH(construction) and H = HASH(C ‖ identifier), the well-known values', (t) => {
  t.is(toHex(INITIAL_CHAINING_KEY), '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
  t.is(toHex(INITIAL_HASH), '2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  t.deepEqual(INITIAL_CHAINING_KEY, HASH(text(CONSTRUCTION)));
  t.deepEqual(INITIAL_HASH, HASH(INITIAL_CHAINING_KEY, text(IDENTIFIER)));
});

// The handshake's primitives come from the native libsodium (the addon); libsodium-wrappers'
// WebAssembly build of the same library is the reference they must agree with, byte for byte.
test('X25519 and (X)ChaCha20-Poly1305 agree with libsodium-wrappers on random inputs', async (t) => {
  const { default: wasm } = await import('libsodium-wrappers');
  await wasm.ready;
  for (let round = 0; round < 64; round++) {
    const a = wasm.randombytes_buf(32);
    const b = wasm.randombytes_buf(32);
    t.is(toHex(DH_PUBLIC(a)), toHex(wasm.crypto_scalarmult_base(a)));
    t.is(toHex(DH(a, DH_PUBLIC(b))!), toHex(wasm.crypto_scalarmult(a, wasm.crypto_scalarmult_base(b))));
    const key = wasm.randombytes_buf(32);
    const plain = wasm.randombytes_buf(round * 7);
    const auth = wasm.randombytes_buf(round % 40);
    const counter = BigInt(round) * 0x1_0000_0001n;
    const sealed = AEAD(key, counter, plain, auth);
    t.is(
      toHex(sealed),
      toHex(wasm.crypto_aead_chacha20poly1305_ietf_encrypt(plain, auth, null, aeadNonce(counter), key)),
    );
    t.is(toHex(AEAD_OPEN(key, counter, sealed, auth)!), toHex(plain));
    const nonce = wasm.randombytes_buf(24);
    const xsealed = XAEAD(key, nonce, plain, auth);
    t.is(toHex(xsealed), toHex(wasm.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, auth, null, nonce, key)));
    t.is(toHex(XAEAD_OPEN(key, nonce, xsealed, auth)!), toHex(plain));
    const flipped = Uint8Array.from(sealed);
    flipped[round % flipped.length]! ^= 1;
    t.is(AEAD_OPEN(key, counter, flipped, auth), null);
    t.is(XAEAD_OPEN(key, nonce, flipped, auth), null);
  }
});
