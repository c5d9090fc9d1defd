import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyWith } from './copy-with.js';

void test('copyWith makes what a spread makes: the fields in the same order, the extra ones replacing in place or added after', () => {
  const base = { a: 1, size: 2, b: { c: 3 } };
  const copy = copyWith(base, { size: 9, z: 'z' });
  assert.deepEqual(Object.entries(copy), Object.entries({ ...base, size: 9, z: 'z' }));
  assert.deepEqual(Object.keys(copy), ['a', 'size', 'b', 'z']);
  assert.equal(copy.b, base.b, 'fields are not copied deeply');
  assert.equal(base.size, 2, 'the base is not changed');
});

void test('copyWith keeps an own __proto__ field as a field, as a spread does, not as the copy\'s prototype', () => {
  const base = JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as Record<string, unknown>;
  const copy = copyWith(base, { b: 2 }) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal(copy.polluted, undefined);
  assert.deepEqual(Object.keys(copy), ['a', '__proto__', 'b']);
});
