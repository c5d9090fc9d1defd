import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FETCH_CACHE_FORMAT, FetchCacheDisk } from './fetch-cache-disk.js';

void test('rows survive a reopen; a file written in another encoding version is emptied when opened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-'));
  try {
    const file = join(dir, 'imap-cache.sqlite');
    const a = new FetchCacheDisk(file);
    a.set('x', ['ana', 'INBOX', 'k1', 'ENVELOPE', Buffer.from('("old form")')]);
    a.close();
    const b = new FetchCacheDisk(file);
    assert.equal(b.get('y', 'ana', 'INBOX', 'k1', 'ENVELOPE')?.toString(), '("old form")');
    b.close();
    // as left by a correio whose ENVELOPE encoding was another version
    const raw = new Database(file);
    raw.pragma(`user_version = ${FETCH_CACHE_FORMAT - 1}`);
    raw.close();
    const c = new FetchCacheDisk(file);
    assert.equal(c.get('z', 'ana', 'INBOX', 'k1', 'ENVELOPE'), undefined);
    c.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
