import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDEMPOTENCY_TTL_MS, MemoryIdempotencyStore, SqliteIdempotencyStore, type IdempotencyStore } from './idempotency-store.js';

async function contract(make: () => IdempotencyStore): Promise<void> {
  const s = make();
  try {
    assert.deepEqual(await s.claim('k1', 'd1', 1000), { kind: 'new' });
    assert.deepEqual(await s.claim('k1', 'd1', 1001), { kind: 'running' });
    assert.deepEqual(await s.claim('k1', 'd2', 1001), { kind: 'other-request' });
    await s.finish('k1', { status: 202, body: { id: 'abc' } });
    assert.deepEqual(await s.claim('k1', 'd1', 1002), { kind: 'done', answer: { status: 202, body: { id: 'abc' } } });
    // released (a temporary failure): the key is free again
    assert.deepEqual(await s.claim('k2', 'd1', 1003), { kind: 'new' });
    await s.release('k2');
    assert.deepEqual(await s.claim('k2', 'd9', 1004), { kind: 'new' });
    // expired after 24 h
    assert.deepEqual(await s.claim('k1', 'd1', 1000 + IDEMPOTENCY_TTL_MS + 1), { kind: 'new' });
  } finally {
    await s.close();
  }
}

void test('idempotency stores: claim, running, another request, answer, release, expiry', async () => {
  await contract(() => new MemoryIdempotencyStore());
  const dir = await mkdtemp(join(tmpdir(), 'correio-idem-'));
  try {
    await contract(() => SqliteIdempotencyStore.open(join(dir, 'a.sqlite')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('SQLite store: answers survive a reopen; a claim left running by a stopped process is void', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-idem-'));
  const file = join(dir, 'idempotency.sqlite');
  try {
    const a = SqliteIdempotencyStore.open(file);
    await a.claim('done', 'd', 1000);
    await a.finish('done', { status: 422, body: { error: 'x' } });
    await a.claim('cut', 'd', 1000);
    await a.close();
    const b = SqliteIdempotencyStore.open(file);
    assert.deepEqual(await b.claim('done', 'd', 2000), { kind: 'done', answer: { status: 422, body: { error: 'x' } } });
    assert.deepEqual(await b.claim('cut', 'd', 2000), { kind: 'new' });
    assert.deepEqual(await b.claim('cut', 'd', 2001), { kind: 'running' });
    await b.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
