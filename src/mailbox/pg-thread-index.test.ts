/**
 * JMAP's conversation index and Email id aliases: the same answers on SQLite (a node's own
 * files) and on PostgreSQL, where they are shared: what one node's store added, another's reads
 * (issue 17: Thread and Email ids the same on every node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EmailAliases, MailThreadIndex } from '../core/index.js';
import { createTestDatabase, pgUnavailable } from '../../test/helpers/pg.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { PgMailStore } from './pg-mail-store.js';
import { SqliteEmailAliases } from './sqlite-email-aliases.js';
import { SqliteThreadIndex } from './sqlite-thread-index.js';

const skip = await pgUnavailable();
const acct = 'suzana@dc.uece.br';

/** Two faces of one index: `a` writes, `b` reads (the same object on SQLite, two nodes on PostgreSQL). */
async function threadCases(a: MailThreadIndex, b: MailThreadIndex): Promise<void> {
  // a reply arrives before its parent: its own thread until the parent links them
  await a.add(acct, [
    { id: 'e1', messageId: 'root@x', refs: [] },
    { id: 'e2', messageId: 'other@x', refs: [] },
    { id: 'e3', messageId: 'r2@x', refs: ['root@x', 'r1@x'] },
  ]);
  await a.add(acct, [{ id: 'e4', messageId: 'lost@x', refs: ['r1-lost@x'] }]);
  assert.deepEqual(Object.fromEntries(await b.threads(acct)), { e1: 't1', e2: 't2', e3: 't1', e4: 't4' });
  // one message naming two threads merges them into the first's (in one batch with a new one)
  await a.add(acct, [
    { id: 'e5', messageId: 'm5@x', refs: ['r1-lost@x', 'other@x'] },
    { id: 'e6', messageId: 'm6@x', refs: ['m5@x'] },
    { id: 'e1', messageId: 'root@x', refs: [] },
  ]);
  assert.deepEqual(Object.fromEntries(await b.threads(acct)), { e1: 't1', e2: 't4', e3: 't1', e4: 't4', e5: 't4', e6: 't4' });
  // another account sees none of it
  assert.equal((await b.threads('pascal@dc.uece.br')).size, 0);
  await b.add('pascal@dc.uece.br', [{ id: 'e9', messageId: 'root@x', refs: [] }]);
  assert.deepEqual(Object.fromEntries(await a.threads('pascal@dc.uece.br')), { e9: 't9' });
  // removed: out of threads(), still answered by gone(); added again: back in its thread
  await a.remove(acct, ['e3', 'e6']);
  assert.deepEqual([...(await b.threads(acct)).keys()].sort(), ['e1', 'e2', 'e4', 'e5']);
  assert.deepEqual(Object.fromEntries(await b.gone(acct, ['e3', 'e6', 'e1', 'nope'])), { e3: 't1', e6: 't4' });
  await b.add(acct, [{ id: 'e3', messageId: 'r2@x', refs: ['root@x', 'r1@x'] }]);
  assert.equal((await a.threads(acct)).get('e3'), 't1');
}

async function aliasCases(a: EmailAliases, b: EmailAliases): Promise<void> {
  await a.add(acct, [
    ['p1', 'e1'],
    ['p2', 'e2'],
  ]);
  await a.add(acct, [['p2', 'e9']]);
  assert.deepEqual(Object.fromEntries(await b.aliases(acct)), { p1: 'e1', p2: 'e9' });
  assert.equal((await b.aliases('pascal@dc.uece.br')).size, 0);
}

void test('SQLite thread index and Email id aliases (one node)', async () => {
  const threads = new SqliteThreadIndex(':memory:');
  const ids = new SqliteEmailAliases(':memory:');
  try {
    await threadCases(threads, threads);
    await aliasCases(ids, ids);
  } finally {
    await threads.close();
    await ids.close();
  }
});

void test('PostgreSQL thread index and Email id aliases: written through one node, the same answers through another', { skip }, async () => {
  const db = await createTestDatabase();
  const a = await PgMailStore.open(db.url, { maxConnections: 2 });
  const b = await PgMailStore.open(db.url, { maxConnections: 2 });
  try {
    const onA = new PgMailFolders(a).jmapIndexes!;
    const onB = new PgMailFolders(b).jmapIndexes!;
    await threadCases(onA.threads, onB.threads);
    await aliasCases(onA.emailIds, onB.emailIds);
    // two nodes indexing the same account at once: each message once, one thread
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: `c${i}`, messageId: `c${i}@x`, refs: i === 0 ? [] : ['c0@x'] }));
    await Promise.all([onA.threads.add('jacques@dc.uece.br', docs), onB.threads.add('jacques@dc.uece.br', [...docs].reverse())]);
    const t = await onA.threads.threads('jacques@dc.uece.br');
    assert.equal(t.size, 50);
    assert.equal(new Set(t.values()).size, 1, `one thread: ${JSON.stringify(Object.fromEntries(t))}`);
  } finally {
    await a.close();
    await b.close();
    await db.drop();
  }
});
