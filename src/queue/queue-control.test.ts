/**
 * StoreQueueControl, the offline face of queue control (no server running): an action on one
 * message or envelope reads that message only, not the whole queue; an action on the whole
 * queue walks it. Run on the in-memory store, whose walks are counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope, MessageId } from '../core/index.js';
import { storeMessage } from '../../test/contract/queue-store.contract.js';
import { MemoryQueueStore, StoreQueueControl, listQueuePage } from './index.js';

class CountingStore extends MemoryQueueStore {
  walks = 0;
  /** envelopes the walks have given so far */
  walked = 0;
  override async *walkEnvelopes(after?: MessageId): AsyncIterable<Envelope> {
    this.walks++;
    for await (const e of super.walkEnvelopes(after)) {
      this.walked++;
      yield e;
    }
  }
}

void test('offline hold, release and bounce of one id read that message only; flush of all walks the queue', async () => {
  const store = new CountingStore();
  const [a1, a2] = await storeMessage(store, 'Subject: a\r\n\r\na\r\n', ['a1@x.example', 'a2@x.example']);
  const [b1] = await storeMessage(store, 'Subject: b\r\n\r\nb\r\n', ['b1@x.example']);
  const control = new StoreQueueControl(store, { now: () => 1_000 });

  assert.equal(await control.hold(a2.id), 1);
  assert.equal((await store.findEnvelope(a2.id))?.state, 'held');
  assert.notEqual((await store.findEnvelope(a1.id))?.state, 'held', 'the other envelope of the message is not held');
  assert.equal(await control.hold(b1.messageId), 1);
  assert.equal(await control.release(a2.id), 1);
  assert.equal(await control.bounce(a1.messageId), 2);
  assert.equal(await control.delete('nonexistent'), 0);
  assert.equal(store.walks, 0, 'no action on a named id walked the queue');

  assert.equal((await store.findEnvelope(a1.id))?.state, 'notice-pending');
  assert.equal((await store.findEnvelope(b1.id))?.state, 'held');
  assert.equal(await control.flush(), 2, 'the two due notices counted, the held envelope left out');
  assert.equal(store.walks, 1);
  await store.close();
});

void test('a filtered page stops when full: it does not read on through the queue to learn whether one more matches', async () => {
  const store = new CountingStore();
  const [held] = await storeMessage(store, 'Subject: h\r\n\r\nh\r\n', ['h@x.example']);
  for (let i = 0; i < 40; i++) await storeMessage(store, `Subject: ${i}\r\n\r\nbody\r\n`, [`r${i}@x.example`]);
  await new StoreQueueControl(store, { now: () => 1_000 }).hold(held.id);
  const page = await listQueuePage(store, { limit: 1, filter: (m) => m.envelopes.some((e) => e.state === 'held') });
  assert.deepEqual(page.messages.map((m) => m.messageId), [held.messageId]);
  assert.equal(page.next, held.messageId, 'a full filtered page offers the next one (more may follow)');
  // the messages before the matching one in id order (ids made in the same instant need not sort
  // in the order they were made: CI once put the held one third), the matching message, and at
  // most the one after it that ended its grouping by message id
  const before = (await store.listMessageIds()).indexOf(held.messageId);
  assert.ok(store.walked <= before + 2, `read ${store.walked} envelopes of 41 for a one-message page, ${before} before the held one`);
  await store.close();
});
