import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueId } from '../util/index.js';
import { ParkedSet } from './parked-set.js';

/** A seeded generator, so that a failure can be run again. */
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

void test('ParkedSet: ids of uniqueId form and of any other form go through park, come due, take, claim and drop as a plain map of them does; counts per kind stay exact', () => {
  const rnd = prng(19);
  // uniqueId envelope ids (several envelopes of a message), and odd ones a test or an import uses
  const messages = Array.from({ length: 300 }, (_, i) => uniqueId(1_700_000_000_000 + i * 7));
  const ids = [
    ...messages.flatMap((m, i) => Array.from({ length: 1 + (i % 3) }, (_, k) => `${m}-${k + 1}`)),
    `${messages[0]}-100000`, 'm1-1', 'm1-2', 'x-1', `${messages[1]}x-1`, `${messages[2]}-01`,
  ];
  const set = new ParkedSet();
  // the model: id → [state, time]
  const model = new Map<string, ['waiting' | 'due' | 'loading', number]>();
  // id → kind (a park without one keeps the kind it had, 0 for a new one)
  const kinds = new Map<string, number>();
  let now = 1000;
  for (let step = 0; step < 20_000; step++) {
    const id = ids[Math.floor(rnd() * ids.length)];
    const r = rnd();
    if (r < 0.4) {
      const at = rnd() < 0.05 ? Infinity : now + Math.floor(rnd() * 500);
      const kind = rnd() < 0.5 ? undefined : 1 + Math.floor(rnd() * 4);
      set.park(id, at, kind);
      model.set(id, ['waiting', at]);
      kinds.set(id, kind ?? kinds.get(id) ?? 0);
    } else if (r < 0.55) {
      set.drop(id);
      model.delete(id);
      kinds.delete(id);
    } else if (r < 0.7) {
      now += Math.floor(rnd() * 50);
      // what comes due comes in time order
      let last = -Infinity;
      while (set.comeDue(now)) {
        const due = [...model].filter(([, [s, at]]) => s === 'waiting' && at <= now).sort((a, b) => a[1][1] - b[1][1]);
        assert.ok(due.length > 0, 'something came due');
        const newly = set.take();
        assert.equal(newly.length, 1);
        const m = model.get(newly[0]);
        assert.ok(m && m[0] === 'waiting' && m[1] <= now, `${newly[0]} was waiting and due`);
        assert.ok(m[1] >= last && m[1] === due[0][1][1], 'the earliest first');
        last = m[1];
        model.set(newly[0], ['loading', 0]);
      }
    } else if (r < 0.8) {
      const asked = ids.filter(() => rnd() < 0.05);
      const claimed = set.claim(asked);
      const want = asked.filter((a) => model.get(a)?.[0] === 'waiting');
      assert.deepEqual(claimed.map((c) => c.id), want);
      for (const c of claimed) {
        assert.equal(c.at, model.get(c.id)?.[1]);
        model.set(c.id, ['loading', 0]);
      }
    }
    if (step % 500 === 0 || step === 19_999) {
      assert.equal(set.size, model.size);
      for (let k = 0; k <= 4; k++) assert.equal(set.countOf(k), [...kinds.values()].filter((x) => x === k).length, `kind ${k}`);
      assert.equal(set.due, [...model.values()].filter(([s]) => s !== 'waiting').length);
      assert.deepEqual(set.ids().sort(), [...model.keys()].sort());
      assert.deepEqual(set.waiting().sort(), [...model].filter(([, [s]]) => s === 'waiting').map(([k]) => k).sort());
      assert.deepEqual([...set.entries()].map(({ id, at }) => ({ id, at })).sort((a, b) => (a.id < b.id ? -1 : 1)), [...model].map(([id, [s, at]]) => ({ id, at: s === 'waiting' ? at : 0 })).sort((a, b) => (a.id < b.id ? -1 : 1)));
      assert.deepEqual([...set.messageIds()].sort(), [...model.keys()].map((k) => k.slice(0, k.lastIndexOf('-'))).sort());
      for (const id of ids) {
        assert.equal(set.has(id), model.has(id), id);
        const m = model.get(id);
        assert.equal(set.timeOf(id), m?.[0] === 'waiting' ? m[1] : undefined);
      }
      const msg = messages[Math.floor(rnd() * 5)];
      assert.deepEqual(set.matching(msg).sort(), [...model.keys()].filter((k) => k.startsWith(`${msg}-`)).sort());
      assert.deepEqual(set.matching('m1').sort(), [...model.keys()].filter((k) => k.startsWith('m1-')).sort());
    }
  }
  const earliest = Math.min(...[...model.values()].filter(([s]) => s === 'waiting').map(([, at]) => at));
  assert.equal(set.nextAt(), earliest);
});

void test('ParkedSet: parked ids of uniqueId form are kept in typed arrays, not as strings', () => {
  const set = new ParkedSet();
  const before = process.memoryUsage();
  for (let i = 0; i < 200_000; i++) set.park(`${uniqueId(1_700_000_000_000 + i)}-1`, 1e13 + i);
  const after = process.memoryUsage();
  // 200,000 ids: ~45 octets each in typed arrays (old ones may wait for a GC after growing)
  const grown = after.arrayBuffers - before.arrayBuffers;
  assert.ok(grown > 200_000 * 30 && grown < 32 * 2 ** 20, `${grown} octets of arrays`);
  assert.equal(set.size, 200_000);
  assert.equal(set.nextAt(), 1e13);
});
