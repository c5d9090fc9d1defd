/**
 * Browser sessions on SQLite (a real file): found while alive, gone after expiry or delete,
 * stored only as hashes (the file holds no secret that would log anyone in).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { SqliteSessionStore } from './sqlite-session-store.js';

void test('a session is found until it expires or is deleted; the file keeps only hashes', async () => {
  await withTempDir('sessions-', async (dir) => {
    let now = 1_000_000;
    const file = join(dir, 'sessions.sqlite');
    const store = SqliteSessionStore.open(file, { now: () => now });
    const a = await store.create('alice@example.org', 60_000);
    const b = await store.create('bob@example.org', 120_000);
    assert.match(a.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await store.find(a.secret), { owner: 'alice@example.org', createdAt: 1_000_000, expiresAt: 1_060_000 });
    assert.equal(await store.find(a.secret.slice(0, -1) + (a.secret.endsWith('A') ? 'B' : 'A')), undefined, 'a secret one letter off');
    assert.equal(await store.find('not a secret'), undefined);
    now += 60_000;
    assert.equal(await store.find(a.secret), undefined, 'expired at expiresAt');
    assert.equal((await store.find(b.secret))?.owner, 'bob@example.org');
    assert.equal(await store.delete(b.secret), true);
    assert.equal(await store.find(b.secret), undefined);
    assert.equal(await store.delete(b.secret), false);
    const c = await store.create('carol@example.org', 60_000);
    await store.close();

    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT hash, owner FROM web_sessions').all() as { hash: Buffer; owner: string }[];
    db.close();
    assert.deepEqual(rows.map((r) => r.owner), ['carol@example.org'], 'expired and deleted rows are gone');
    const raw = await readFile(file).then((b) => b.toString('latin1'));
    assert.ok(!raw.includes(c.secret), 'the secret itself is not in the file');
    const again = SqliteSessionStore.open(file, { now: () => now });
    assert.equal((await again.find(c.secret))?.owner, 'carol@example.org', 'sessions survive a restart');
    await again.close();
  });
});
