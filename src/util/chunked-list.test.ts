import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedList } from './chunked-list.js';

void test('a chunked list does what an array does under random inserts, removals, sets and filters, across chunk splits and merges', () => {
  let seed = 11;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const start = Array.from({ length: 3000 }, (_, i) => i * 2);
  const array = start.slice();
  const list = ChunkedList.from(start);
  for (let step = 0; step < 20000; step++) {
    const op = rnd(10);
    if (op < 4) {
      const i = rnd(array.length + 1);
      array.splice(i, 0, -step);
      list.insert(i, -step);
    } else if (op < 8 && array.length > 0) {
      const i = rnd(array.length);
      assert.equal(list.removeAt(i), array.splice(i, 1)[0]);
    } else if (array.length > 0) {
      const i = rnd(array.length);
      array[i] = step;
      list.set(i, step);
    }
    if (step % 997 === 0) {
      const keep = (v: number): boolean => v % 7 !== 0;
      array.splice(0, array.length, ...array.filter(keep));
      list.filterInPlace(keep);
    }
    const j = rnd(array.length + 2) - 1;
    assert.equal(list.at(j), array[j], `at ${j} after step ${step}`);
  }
  assert.equal(list.length, array.length);
  assert.deepEqual(list.toArray(), array);
  assert.deepEqual([...list], array);
  assert.deepEqual([...list.entries()], [...array.entries()]);
  const seen: number[] = [];
  list.each((v, i) => {
    assert.equal(v, array[i]);
    seen.push(i);
  }, 5);
  assert.equal(seen[0], 5);
  assert.equal(seen.length, array.length - 5);
});

void test('a fork and its list change apart: neither sees the other\'s changes, and the items they share are the same objects', () => {
  const items = Array.from({ length: 5000 }, (_, i) => ({ n: i }));
  const a = ChunkedList.from(items);
  const b = a.fork();
  b.set(10, { n: -1 });
  b.removeAt(4000);
  b.insert(0, { n: -2 });
  a.set(20, { n: -3 });
  assert.deepEqual([a.at(10)!.n, a.at(20)!.n, a.length], [10, -3, 5000]);
  assert.deepEqual([b.at(0)!.n, b.at(11)!.n, b.at(21)!.n, b.length], [-2, -1, 20, 5000]);
  assert.equal(b.at(100), a.at(99), 'shared, not copied');
  const c = b.fork();
  c.filterInPlace((x) => x.n % 2 === 0);
  assert.equal(b.length, 5000);
  // every even item of b, in b's order (an empty or emptied fork would pass an `every` alone)
  assert.deepEqual(c.toArray(), b.toArray().filter((x) => x.n % 2 === 0));
  assert.ok(c.toArray().every((x) => x.n % 2 === 0));
});

void test('search finds an item by an ascending key, or where it would go', () => {
  const list = ChunkedList.from(Array.from({ length: 2000 }, (_, i) => ({ uid: 3 * i + 1 })));
  const uid = (x: { uid: number }): number => x.uid;
  assert.equal(list.search(uid, 1), 0);
  assert.equal(list.search(uid, 3 * 1500 + 1), 1500);
  assert.equal(list.search(uid, 3 * 1500 + 2), -1502);
  assert.equal(list.search(uid, 0), -1);
  assert.equal(list.search(uid, 10 ** 9), -2001);
  assert.equal(ChunkedList.from<{ uid: number }>([]).search(uid, 5), -1);
  assert.throws(() => list.set(2000, { uid: 0 }), RangeError);
});
