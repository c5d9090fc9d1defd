/**
 * The list of a server's open sessions (live-list.ts): items come back in the order they were
 * added, an entry removes its own item once, and an iteration sees the items present when it
 * began.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveList } from './live-list.js';

void test('added items are listed in order and removed through their entries, each once', () => {
  const list = new LiveList<{ n: number }>();
  const items = [1, 2, 3, 4].map((n) => ({ n }));
  const entries = items.map((i) => list.add(i));
  assert.equal(list.size, 4);
  assert.deepEqual([...list].map((i) => i.n), [1, 2, 3, 4]);
  // the middle, the head, the tail
  assert.equal(list.delete(entries[2]), true);
  assert.equal(list.delete(entries[0]), true);
  assert.equal(list.delete(entries[3]), true);
  assert.deepEqual([...list].map((i) => i.n), [2]);
  assert.equal(list.size, 1);
  assert.equal(list.delete(entries[0]), false, 'a second removal changes nothing');
  assert.equal(list.size, 1);
  assert.equal(entries[0].item, undefined, 'a removed entry keeps nothing');
  assert.equal(list.delete(entries[1]), true);
  assert.equal(list.size, 0);
  assert.deepEqual([...list], []);
  // empty again: the next item is both head and tail
  const e = list.add({ n: 5 });
  list.add({ n: 6 });
  list.delete(e);
  assert.deepEqual([...list].map((i) => i.n), [6]);
});

void test('an iteration visits the items present when it began, whatever is added or removed meanwhile', () => {
  const list = new LiveList<{ n: number }>();
  const entries = [1, 2, 3].map((n) => list.add({ n }));
  const seen: number[] = [];
  for (const item of list) {
    seen.push(item.n);
    if (item.n === 1) {
      list.delete(entries[1]);
      list.add({ n: 4 });
    }
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual([...list].map((i) => i.n), [1, 3, 4]);
});
