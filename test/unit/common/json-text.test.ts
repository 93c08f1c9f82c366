import test from 'ava';
import { JsonTextError, parseStrictJson } from '../../../src/common/json-text.js';

const refusal = (text: string): JsonTextError => {
  try {
    parseStrictJson(text);
  } catch (error) {
    if (error instanceof JsonTextError) return error;
    throw error;
  }
  throw new Error(`accepted ${text}`);
};

test('valid JSON parses as JSON.parse does', (t) => {
  const text =
    '{"a": [1, -2.5e3, {"b": "x\\"y", "c": null}], "d": true, "e": {"a": 1}, "big": 9007199254740991, "f": 1e400}';
  t.deepEqual(parseStrictJson(text), JSON.parse(text));
  t.is(parseStrictJson('"top"'), 'top');
});

test('a key given twice is refused with its JSON pointer, at any depth, escapes and all', (t) => {
  t.like(refusal('{"name": "a", "name": "b"}'), { path: '/name', reason: 'key "name" is given twice in one object' });
  t.like(refusal('{"r": [{}, {"x": 1, "y": {"a": 1}, "x": 2}]}'), { path: '/r/1/x' });
  t.like(refusal('{"a": 1, "\\u0061": 2}'), { path: '/a' }, 'the same key written another way');
  t.like(refusal('{"a/b~": 1, "a/b~": 2}'), { path: '/a~1b~0' });
  t.notThrows(
    () => parseStrictJson('{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}'),
    'equal keys in different objects are fine',
  );
});

test('an integer beyond 2^53 is refused quoting the literal as sent', (t) => {
  const error = refusal('{"revision": 9007199254740993}');
  t.is(error.path, '/revision');
  t.is(
    error.message,
    '/revision: "9007199254740993" is not exactly representable (integers are limited to ±9007199254740991)',
  );
  t.like(refusal('[1, -9007199254740993]'), { path: '/1' });
});

test("syntax errors are JSON.parse's; deep nesting costs no call stack", (t) => {
  t.throws(() => parseStrictJson('{"a": '), { instanceOf: SyntaxError });
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  t.notThrows(() => parseStrictJson(deep));
});
