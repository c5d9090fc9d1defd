import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMessageCache, NoMessageCache, type MessageCache } from './message-cache.js';
import { envelopeFile } from './spool-format.js';

const file = (id: string) => envelopeFile(id, []);

void test('BoundedMessageCache: oldest out past maxMessages; bodies kept only when small and within the budget', () => {
  const cache = new BoundedMessageCache({ maxMessages: 2, bodyBudget: 10, maxBody: 6 });
  cache.remember('a', { file: file('a'), envFile: false }, [Buffer.from('abc'), Buffer.from('de')]);
  assert.equal(cache.get('a')?.body?.toString(), 'abcde');
  cache.remember('b', { file: file('b'), envFile: false }, [Buffer.from('1234567')]); // over maxBody
  assert.equal(cache.get('b')?.body, undefined);
  assert.equal(cache.get('b')?.file.messageId, 'b');
  cache.remember('c', { file: file('c'), envFile: true }, [Buffer.from('xyz123')]); // 5 + 6 > budget: no body
  assert.equal(cache.get('a'), undefined, 'the oldest went');
  assert.equal(cache.get('c')?.body, undefined);
  cache.forget('b');
  cache.remember('d', { file: file('d'), envFile: false }, [Buffer.from('xyz123')]); // a's octets were given back
  assert.equal(cache.get('d')?.body?.toString(), 'xyz123');
  assert.equal(cache.remembers, true);
});

void test('NoMessageCache remembers nothing', () => {
  const cache: MessageCache = new NoMessageCache();
  cache.remember('a', { file: file('a'), envFile: false }, [Buffer.from('x')]);
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.remembers, false);
});
