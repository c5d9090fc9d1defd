/**
 * Browser sessions in PostgreSQL (a real server, a database of the test's own): a session made
 * through one node's store is found through another's, a logout on one ends it on both,
 * expiry, a malformed secret, and a database that is gone answers a temporary error, never
 * "no such session".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailError } from '../core/index.js';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { PgDirectory } from './pg-directory.js';
import { PgSessionStore } from './pg-session-store.js';

const skip = await pgUnavailable();

void test('two nodes share sessions: made on one, found and ended on the other; expiry', { skip }, () =>
  withTestDatabase(async (db) => {
    // the directory's migration makes the table (serve opens the directory first)
    await (await PgDirectory.open(db.url, { localDomains: ['example.org'] })).close();
    let now = 1_000_000;
    const a = PgSessionStore.open(db.url, { now: () => now });
    const b = PgSessionStore.open(db.url, { now: () => now });
    try {
      const { session, secret } = await a.create('alice@example.org', 60_000);
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(await b.find(secret), session, 'the other node knows the session');
      assert.equal(await b.find(`${secret.slice(0, 42)}x`), undefined);
      assert.equal(await b.find('not a secret'), undefined);
      assert.equal(await b.delete(secret), true, 'logout on the other node');
      assert.equal(await a.find(secret), undefined, 'ended everywhere');
      assert.equal(await a.delete(secret), false);
      const later = await b.create('bob@example.org', 1_000);
      now += 1_000;
      assert.equal(await a.find(later.secret), undefined, 'expired');
    } finally {
      await a.close();
      await b.close();
    }
    const gone = PgSessionStore.open(db.url.replace(/\/[^/]*$/, '/correio_no_such_database'));
    try {
      await assert.rejects(gone.find('a'.repeat(43)), (e: unknown) => e instanceof MailError && e.reply.code === 451);
    } finally {
      await gone.close();
    }
  }));
