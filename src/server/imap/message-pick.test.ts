import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inSequenceSet, type SequenceSet } from '../../protocol/imap/index.js';
import { ChunkedList } from '../../util/index.js';
import { pick } from './message-commands.js';
import type { SelectedMailbox, ViewMessage } from './selected-mailbox.js';

/** A view of messages with these UIDs (ascending), as pick reads it. */
function viewOf(uids: number[]): [SelectedMailbox, ViewMessage[]] {
  const messages = uids.map((uid) => ({ uid, key: `k${uid}`, flags: '', keywords: [], modseq: 1, size: 1, receivedAt: 0, gone: false, recent: false }) satisfies ViewMessage);
  const maxUid = uids.length === 0 ? 0 : uids[uids.length - 1];
  // walked and searched as SelectedMailbox does, through a chunked list
  const list = ChunkedList.from(messages);
  const view = {
    each: (fn: (m: ViewMessage, i: number) => boolean | void, from?: number) => list.each(fn, from),
    firstAtOrAbove: (uid: number) => {
      const i = list.search((m) => m.uid, uid);
      return i >= 0 ? i : -i - 1;
    },
    exists: messages.length,
    maxUid,
    contains: (set: SequenceSet, m: ViewMessage, seq: number, uid: boolean) => (uid ? inSequenceSet(set, m.uid, maxUid) : inSequenceSet(set, seq, messages.length)),
  } as unknown as SelectedMailbox;
  return [view, messages];
}

void test('pick walks merged ranges: the same messages, in order and once each, as testing every message against the set', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 2000; round++) {
    const uids: number[] = [];
    for (let u = 1, count = rnd(30); uids.length < count; u += 1 + rnd(4)) uids.push(u);
    const [sel, messages] = viewOf(uids);
    const uid = rnd(2) === 0;
    const top = uid ? (uids.at(-1) ?? 0) + 3 : uids.length;
    const end = (): number => (rnd(6) === 0 ? Infinity : 1 + rnd(Math.max(1, top)));
    const set: SequenceSet = Array.from({ length: 1 + rnd(4) }, () => ({ from: end(), to: end() }));
    const got = pick(sel, set, uid);
    const want = messages.flatMap((m, i) => (sel.contains(set, m, i + 1, uid) ? [{ seq: i + 1, m }] : []));
    if (!Array.isArray(got)) {
      // sequence numbers past the last message: BAD, as before
      assert.ok(!uid && set.some((r) => (r.from !== Infinity && r.from > uids.length) || (r.to !== Infinity && r.to > uids.length) || (uids.length === 0 && r.from !== Infinity)));
      continue;
    }
    assert.deepEqual(got.map((p) => p.seq), want.map((p) => p.seq), `${uid ? 'UID ' : ''}${JSON.stringify(set)} of ${uids.join(',')}`);
  }
});
