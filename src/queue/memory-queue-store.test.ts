import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueStoreContract, storeMessage } from '../../test/contract/queue-store.contract.js';
import { MemoryQueueStore, MemorySpool } from './index.js';

queueStoreContract('MemoryQueueStore', async () => {
  const spool = new MemorySpool();
  let store = new MemoryQueueStore({ spool });
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = new MemoryQueueStore({ spool });
      return store;
    },
    async cleanup() {
      await store.close();
    },
  };
});

void test('MemoryQueueStore: a changed object given to or returned by the store changes nothing stored', async () => {
  const store = new MemoryQueueStore();
  const [a] = await storeMessage(store, 'x\r\n', ['a@x.example']);
  (a.route as { nextHop: string }).nextHop = 'changed';
  const found = await store.findEnvelope(a.id);
  assert.equal(found?.route.nextHop, 'a@x.example');
  (found.dsn as { notify?: string[] }).notify = [];
  assert.deepEqual((await store.findEnvelope(a.id))?.dsn.notify, ['FAILURE', 'DELAY']);
  await store.close();
  await assert.rejects(store.createMessage(), /local error/);
});
