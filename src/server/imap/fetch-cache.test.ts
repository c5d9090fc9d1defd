import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTempDir } from '../../../test/helpers/temp-dir.js';
import { FetchCache } from './fetch-cache.js';
import { FetchCacheDisk } from './fetch-cache-disk.js';

const envelope = (i: number): Buffer => Buffer.from(`("Mon, 1 Jan 2024 00:00:00 +0000" "subject ${i}" NIL NIL NIL NIL NIL NIL NIL "<m${i}@example.net>")`);

void test('memory stays under its bound; a folder larger than it is answered whole from the disk tier in bulk', async () => {
  await withTempDir('correio-fetch-cache-', async (dir) => {
    const disk = new FetchCacheDisk(join(dir, 'imap-cache.sqlite'));
    // room for about 1,000 of the 5,000 messages
    const cache = new FetchCache(400_000, disk);
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    for (const [i, k] of keys.entries()) cache.set('ana', 'INBOX', k, 'ENVELOPE', envelope(i));
    assert.ok(cache.bytes <= 400_000, `memory bounded (${cache.bytes})`);
    assert.ok(cache.bytes > 300_000, `memory used (${cache.bytes})`);
    disk.flush();
    const got = cache.getMany('ana', 'INBOX', keys);
    assert.equal(got.size, 5000);
    for (const [i, k] of keys.entries()) assert.equal(got.get(k)?.ENVELOPE?.toString(), envelope(i).toString());
    assert.ok(cache.bytes <= 400_000, `still bounded after a bulk read (${cache.bytes})`);
    // another user's or folder's entries are not this one's
    assert.equal(cache.getMany('bia', 'INBOX', ['k1']).size, 0);
    assert.equal(cache.get('ana', 'Sent', 'k1', 'ENVELOPE'), undefined);
    // a dropped message is gone from both tiers
    cache.drop('ana', 'INBOX', 'k4999');
    assert.equal(cache.get('ana', 'INBOX', 'k4999', 'ENVELOPE'), undefined);
    assert.equal(cache.get('ana', 'INBOX', 'k0', 'ENVELOPE')?.toString(), envelope(0).toString());
    cache.close();
  });
});

void test('without a disk tier, the most recently used entries stay', () => {
  const cache = new FetchCache(100_000);
  for (let i = 0; i < 1000; i++) {
    cache.set('ana', 'INBOX', `k${i}`, 'ENVELOPE', envelope(i));
    cache.set('ana', 'INBOX', `k${i}`, 'BODY', Buffer.from(`("TEXT" "PLAIN" ${i})`));
    // k0 is used all along: never the least recently used
    assert.ok(cache.get('ana', 'INBOX', 'k0', 'ENVELOPE'));
  }
  assert.ok(cache.bytes <= 100_000);
  assert.equal(cache.get('ana', 'INBOX', 'k999', 'BODY')?.toString(), '("TEXT" "PLAIN" 999)');
  assert.equal(cache.get('ana', 'INBOX', 'k1', 'ENVELOPE'), undefined);
});

void test('an item filled in the background (disk tier only) is found for a message whose memory entry lacks it', async () => {
  await withTempDir('correio-fetch-cache-', async (dir) => {
    const disk = new FetchCacheDisk(join(dir, 'imap-cache.sqlite'));
    const cache = new FetchCache(1_000_000, disk);
    cache.set('ana', 'INBOX', 'k1', 'ENVELOPE', envelope(1));
    cache.store('ana', 'INBOX', 'k1', 'BODYSTRUCTURE', Buffer.from('("TEXT" "PLAIN")'));
    const before = cache.bytes;
    // only ENVELOPE wanted: memory answers
    assert.equal(cache.getMany('ana', 'INBOX', ['k1'], ['ENVELOPE']).get('k1')?.BODYSTRUCTURE, undefined);
    assert.equal(cache.bytes, before, 'nothing read from disk');
    const both = cache.getMany('ana', 'INBOX', ['k1'], ['ENVELOPE', 'BODYSTRUCTURE']).get('k1');
    assert.equal(both?.ENVELOPE?.toString(), envelope(1).toString());
    assert.equal(both?.BODYSTRUCTURE?.toString(), '("TEXT" "PLAIN")');
    assert.ok(cache.bytes > before, 'kept in memory since');
    cache.close();
  });
});

void test('gone forgets those messages of that folder only, their bytes given back', () => {
  const cache = new FetchCache(100_000);
  for (const folder of ['INBOX', 'Sent']) for (let i = 0; i < 3; i++) cache.set('ana', folder, `k${i}`, 'ENVELOPE', envelope(i));
  const before = cache.bytes;
  cache.gone('ana', 'INBOX', ['k0', 'k2', 'never-cached']);
  assert.equal(cache.get('ana', 'INBOX', 'k0', 'ENVELOPE'), undefined);
  assert.equal(cache.get('ana', 'INBOX', 'k2', 'ENVELOPE'), undefined);
  assert.equal(cache.get('ana', 'INBOX', 'k1', 'ENVELOPE')?.toString(), envelope(1).toString());
  assert.equal(cache.get('ana', 'Sent', 'k0', 'ENVELOPE')?.toString(), envelope(0).toString());
  assert.ok(cache.bytes > 0 && cache.bytes < before, `bytes given back (${before} -> ${cache.bytes})`);
  cache.gone('ana', 'INBOX', ['k1']);
  cache.drop('ana', 'Sent', 'k1');
  cache.gone('ana', 'Sent', ['k0', 'k2']);
  assert.equal(cache.bytes, 0);
});
