/**
 * The caches' rule with a stamp the test sets: an answer is computed again when either counter
 * moved, and SqliteCachedAnswers keeps no more than its bound. sqlite-directory.test.ts runs
 * them over real SQLite connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteCachedAnswers, SqliteCachedValue, type DbStamp } from './sqlite-cached-value.js';

void test('a value is computed again when another connection committed or this one changed rows, not otherwise', () => {
  let stamp: DbStamp = { others: 1, own: 0 };
  let computed = 0;
  const v = new SqliteCachedValue(() => stamp, () => ++computed);
  assert.equal(v.get(), 1);
  assert.equal(v.get(), 1);
  stamp = { others: 2, own: 0 };
  assert.equal(v.get(), 2);
  stamp = { others: 2, own: 5 };
  assert.equal(v.get(), 3);
  assert.equal(v.get(), 3);
});

void test('answers are kept per key until the stamp moves, and start empty again past their bound', () => {
  let stamp: DbStamp = { others: 1, own: 0 };
  const asked: string[] = [];
  const a = new SqliteCachedAnswers<{ key: string; n: number }>(() => stamp, 3);
  const get = (key: string): { key: string; n: number } =>
    a.get(key, () => {
      asked.push(key);
      return { key, n: asked.length };
    });
  const x = get('x');
  assert.equal(get('x'), x);
  get('y');
  assert.deepEqual(asked, ['x', 'y']);
  stamp = { others: 1, own: 1 };
  assert.notEqual(get('x'), x);
  assert.deepEqual(asked, ['x', 'y', 'x']);
  // x, y, z held (the bound); w starts them afresh
  get('y');
  get('z');
  get('w');
  assert.deepEqual(asked, ['x', 'y', 'x', 'y', 'z', 'w']);
  get('x');
  assert.deepEqual(asked.at(-1), 'x', 'x was dropped with the others');
  get('w');
  assert.equal(asked.length, 7, 'w is kept');
});
