import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueId } from '../util/index.js';
import { MessageIdSet } from './message-id-set.js';

void test('MessageIdSet: ids of uniqueId form and others, through its growth; marks kept across it', () => {
  const s = new MessageIdSet();
  const ids = Array.from({ length: 20_000 }, (_, i) => uniqueId(1_700_000_000_000 + (i % 7) * 1000));
  for (const id of ids) s.add(id);
  s.add('odd-one');
  s.add(ids[0]); // again: counted once
  assert.equal(s.size, 20_001);
  // marks before the set grows again
  for (let i = 0; i < ids.length; i += 2) assert.equal(s.mark(ids[i]), true);
  assert.equal(s.mark('odd-one'), true);
  const more = Array.from({ length: 20_000 }, (_, i) => uniqueId(1_800_000_000_000 + i));
  for (const id of more) s.add(id);
  assert.equal(s.size, 40_001);
  assert.ok(ids.every((id, i) => s.has(id) && s.marked(id) === (i % 2 === 0)));
  assert.ok(more.every((id) => s.has(id) && !s.marked(id)));
  assert.ok(s.marked('odd-one'));
  // not in the set: never marked, never "has"
  for (const id of [uniqueId(1_900_000_000_000), 'odd-two', 'ZZZZZZZZZZZZZZZZZZ']) {
    assert.equal(s.has(id), false);
    assert.equal(s.mark(id), false);
    assert.equal(s.marked(id), false);
  }
});
