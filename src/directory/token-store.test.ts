/**
 * API token stores, one contract on both (SQLite file, PostgreSQL with a database of the
 * test's own): create, verify (a wrong secret, a malformed one), use noted once a minute,
 * list (all, one owner's), revoke. On PostgreSQL two stores on one database stand for two
 * nodes: a token made on one is accepted by the other, revoked on the other it is gone on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TokenStore } from '../core/index.js';
import { MailError } from '../core/index.js';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { PgTokenStore } from './pg-token-store.js';
import { SqliteTokenStore } from './sqlite-token-store.js';

/** `a` and `b` may be one store or two on the same storage. */
async function contract(a: TokenStore, b: TokenStore, advance: (ms: number) => void): Promise<void> {
  const { token, secret } = await a.create('alice@example.org', ['jmap', 'submit', 'jmap'], 'phone');
  assert.match(secret, /^correio_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(token.scopes, ['jmap', 'submit']);
  const seen = await b.verify(secret);
  assert.deepEqual(seen, { ...token, lastUsedAt: token.createdAt }, 'accepted by the other, its use noted');
  assert.equal(await b.verify(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`), undefined, 'a wrong secret');
  assert.equal(await b.verify('correio_nothing'), undefined, 'a malformed token');
  advance(30_000);
  assert.equal((await a.verify(secret))?.lastUsedAt, token.createdAt, 'use noted at most once a minute');
  advance(30_000);
  assert.equal((await a.verify(secret))?.lastUsedAt, token.createdAt + 60_000);
  const other = await b.create('bob@example.org', ['admin']);
  assert.deepEqual((await a.list()).map((t) => t.id), [token.id, other.token.id]);
  assert.deepEqual((await a.list('bob@example.org')).map((t) => t.owner), ['bob@example.org']);
  assert.equal(await b.revoke(token.id), true, 'revoked on the other');
  assert.equal(await a.verify(secret), undefined, 'gone on both');
  assert.equal(await a.revoke(token.id), false);
}

void test('SQLite token store: the contract', () =>
  withTempDir('correio-tokens-', async (dir) => {
    let now = 1_000_000;
    const store = SqliteTokenStore.open(join(dir, 'tokens.sqlite'), { now: () => now });
    try {
      await contract(store, store, (ms) => (now += ms));
    } finally {
      await store.close();
    }
  }));

void test('PostgreSQL token stores: the contract across two nodes; an unreachable database is 451, never "no such token"', { skip: await pgUnavailable() }, () =>
  withTestDatabase(async (db) => {
    let now = 1_000_000;
    const a = PgTokenStore.open(db.url, { now: () => now });
    const b = PgTokenStore.open(db.url, { now: () => now });
    try {
      await contract(a, b, (ms) => (now += ms));
    } finally {
      await a.close();
      await b.close();
    }
    const gone = PgTokenStore.open(db.url.replace(/\/[^/]*$/, '/correio_no_such_database'));
    try {
      await assert.rejects(gone.verify(`correio_${'0'.repeat(12)}_${'a'.repeat(43)}`), (e: unknown) => e instanceof MailError && e.reply.code === 451);
    } finally {
      await gone.close();
    }
  }));
