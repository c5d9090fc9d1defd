/**
 * StoreQueueControl, the offline face of queue control (no server running): an action on one
 * message or envelope reads that message only, not the whole queue; an action on the whole
 * queue walks it. Run on the in-memory store, whose walks are counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope, MessageId } from '../core/index.js';
import { storeMessage } from '../../test/contract/queue-store.contract.js';
import { MemoryQueueStore, StoreQueueControl } from './index.js';

class CountingStore extends MemoryQueueStore {
  walks = 0;
  override walkEnvelopes(after?: MessageId): AsyncIterable<Envelope> {
    this.walks++;
    return super.walkEnvelopes(after);
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
