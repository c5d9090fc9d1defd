import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FETCH_CACHE_FORMAT, FetchCacheDisk } from './fetch-cache-disk.js';

void test('rows survive a reopen and are read in bulk; a file written in another encoding version is emptied when opened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-'));
  try {
    const file = join(dir, 'imap-cache.sqlite');
    const a = new FetchCacheDisk(file);
    a.set('ana', 'INBOX', 'k1', 'ENVELOPE', Buffer.from('("old form")'));
    a.set('ana', 'INBOX', 'k2', 'BODY', Buffer.from('("b2")'));
    a.set('ana', 'Sent', 'k1', 'ENVELOPE', Buffer.from('("other folder")'));
    a.close();
    const b = new FetchCacheDisk(file);
    const rows = (keys: string[]): string[] => b.getMany('ana', 'INBOX', keys).map(([k, item, data]) => `${k} ${item} ${data.toString()}`).sort();
    assert.deepEqual(rows(['k1', 'k2', 'k3']), ['k1 ENVELOPE ("old form")', 'k2 BODY ("b2")']);
    // only the items asked for
    assert.deepEqual(b.getMany('ana', 'INBOX', ['k1', 'k2'], ['BODY']).map(([k, item]) => `${k} ${item}`), ['k2 BODY']);
    // more keys than one query takes
    assert.deepEqual(rows([...Array.from({ length: 1200 }, (_, i) => `x${i}`), 'k2']), ['k2 BODY ("b2")']);
    // a row waiting to be written is answered too, once
    b.set('ana', 'INBOX', 'k3', 'ENVELOPE', Buffer.from('("new")'));
    assert.deepEqual(rows(['k3']), ['k3 ENVELOPE ("new")']);
    b.flush();
    b.set('ana', 'INBOX', 'k3', 'ENVELOPE', Buffer.from('("newer")'));
    assert.deepEqual(rows(['k3']), ['k3 ENVELOPE ("newer")']);
    b.close();
    // as left by a correio whose ENVELOPE encoding was another version
    const raw = new Database(file);
    raw.pragma(`user_version = ${FETCH_CACHE_FORMAT - 1}`);
    raw.close();
    const c = new FetchCacheDisk(file);
    assert.deepEqual(c.getMany('ana', 'INBOX', ['k1']), []);
    c.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('rows read back packed into one blob are byte for byte what was written (NUL, invalid UTF-8, line ends, a cut UTF-8 sequence)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-'));
  try {
    const file = join(dir, 'imap-cache.sqlite');
    const a = new FetchCacheDisk(file);
    const odd = [Buffer.from([0, 255, 10, 13, 0xc3, 0x28, 0]), Buffer.from('("Ol\u00e1" {3}\r\n\u00e9\u00ff)'), Buffer.from([0xe2, 0x82]), Buffer.alloc(3000, 0x80)];
    odd.forEach((b, i) => a.set('ana', 'INBOX', `k${i}`, 'ENVELOPE', b));
    a.set('ana', 'INBOX', 'k1', 'BODY', Buffer.from([0xff, 0xfe, 0]));
    a.close();
    const b = new FetchCacheDisk(file);
    const got = new Map(b.getMany('ana', 'INBOX', ['k0', 'k1', 'k2', 'k3', 'none']).map(([k, item, data]) => [`${k} ${item}`, data]));
    assert.equal(got.size, 5);
    odd.forEach((want, i) => assert.ok(got.get(`k${i} ENVELOPE`)?.equals(want), `k${i}`));
    assert.ok(got.get('k1 BODY')?.equals(Buffer.from([0xff, 0xfe, 0])));
    b.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('gone drops the rows of those keys of that folder only, waiting ones too, in the next write; more keys than one statement takes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-'));
  try {
    const file = join(dir, 'imap-cache.sqlite');
    const a = new FetchCacheDisk(file);
    const many = Array.from({ length: 1200 }, (_, i) => `m${i}`);
    for (const k of [...many, 'k1', 'k2']) a.set('ana', 'INBOX', k, 'ENVELOPE', Buffer.from(`(${k})`));
    a.set('ana', 'Sent', 'k1', 'ENVELOPE', Buffer.from('(sent)'));
    a.set('rui', 'INBOX', 'k1', 'ENVELOPE', Buffer.from('(rui)'));
    a.flush();
    a.set('ana', 'INBOX', 'k3', 'SORT', Buffer.from('(waiting)'));
    a.gone('ana', 'INBOX', [...many, 'k1', 'k3']);
    // the waiting row is gone at once; the file's rows with the next write
    assert.deepEqual(a.getMany('ana', 'INBOX', ['k3'], ['SORT']), []);
    a.close();
    const db = new Database(file, { readonly: true });
    const left = db.prepare("SELECT user || ' ' || folder || ' ' || key FROM items ORDER BY 1").pluck().all();
    db.close();
    assert.deepEqual(left, ['ana INBOX k2', 'ana Sent k1', 'rui INBOX k1']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
