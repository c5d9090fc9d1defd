import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDEMPOTENCY_TTL_MS, MemoryIdempotencyStore, SqliteIdempotencyStore, type IdempotencyClaim, type IdempotencyStore } from './idempotency-store.js';
import { IDEMPOTENCY_CLAIM_MS, PgIdempotencyStore } from './pg-idempotency-store.js';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';

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
    // a caller's namespace is joined with a NUL (submission-api.ts)
    assert.deepEqual(await s.claim('token1\0k3', 'd1', 1003), { kind: 'new' });
    await s.finish('token1\0k3', { status: 202, body: { id: 'nul' } });
    assert.deepEqual(await s.claim('token1\0k3', 'd1', 1004), { kind: 'done', answer: { status: 202, body: { id: 'nul' } } });
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

void test('PostgreSQL store: the contract; two nodes on one database share answers, claims and releases; a stopped node\'s claim is taken over after IDEMPOTENCY_CLAIM_MS', { skip: await pgUnavailable() }, () =>
  withTestDatabase(async (db) => {
    await contract(() => PgIdempotencyStore.open(db.url));
    const a = PgIdempotencyStore.open(db.url);
    const b = PgIdempotencyStore.open(db.url);
    try {
      const both = await Promise.all([a.claim('race', 'd', 5000), b.claim('race', 'd', 5000)]);
      assert.deepEqual(both.map((c) => c.kind).sort(), ['new', 'running'], 'one node wins a key claimed at once');
      assert.deepEqual(await a.claim('k', 'd', 5000), { kind: 'new' });
      assert.deepEqual(await b.claim('k', 'd', 5001), { kind: 'running' }, 'running on node A: 409 on node B');
      await a.finish('k', { status: 202, body: { id: 'm1' } });
      assert.deepEqual(await b.claim('k', 'd', 5002), { kind: 'done', answer: { status: 202, body: { id: 'm1' } } }, 'the replay to node B gets A\'s answer');
      assert.deepEqual(await b.claim('k', 'other', 5002), { kind: 'other-request' });
      await b.finish('k', { status: 500, body: {} });
      assert.deepEqual(await a.claim('k', 'd', 5003), { kind: 'done', answer: { status: 202, body: { id: 'm1' } } }, 'only the claimant writes the answer');
      assert.deepEqual(await a.claim('r', 'd', 5000), { kind: 'new' });
      await b.release('r');
      assert.deepEqual(await b.claim('r', 'd', 5001), { kind: 'running' }, 'only the claimant releases');
      await a.release('r');
      assert.deepEqual(await b.claim('r', 'd', 5002), { kind: 'new' }, 'released on A: free on B');
      assert.deepEqual(await b.claim('r', 'd', 5002 + IDEMPOTENCY_CLAIM_MS - 1), { kind: 'running' });
      assert.deepEqual(await a.claim('r', 'd', 5003 + IDEMPOTENCY_CLAIM_MS), { kind: 'new' }, 'B stopped without an answer: A takes the key over');
    } finally {
      await a.close();
      await b.close();
    }
  }));

void test('PostgreSQL store: a node killed (-9) mid-request loses its claim once its heartbeat lapses, not after IDEMPOTENCY_CLAIM_MS; a stopped node\'s at once', { skip: await pgUnavailable() }, () =>
  withTestDatabase(async (db) => {
    // node A: another process that claims a key and is killed before it answers
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { PgIdempotencyStore } = await import(process.env.STORE_MODULE);
      const a = PgIdempotencyStore.open(process.env.DB_URL, { aliveMs: 2000 });
      const c = await a.claim('killed', 'd', Date.now());
      process.stdout.write(c.kind + '\\n');
      setInterval(() => undefined, 1000);
    `], { env: { ...process.env, STORE_MODULE: new URL('./pg-idempotency-store.js', import.meta.url).href, DB_URL: db.url }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    assert.equal(line, 'new');
    const b = PgIdempotencyStore.open(db.url, { aliveMs: 2000 });
    try {
      assert.deepEqual(await b.claim('killed', 'd', Date.now()), { kind: 'running' }, 'A is alive: its request runs (409)');
      child.kill('SIGKILL');
      await exited;
      let taken: IdempotencyClaim = { kind: 'running' };
      const started = Date.now();
      while (taken.kind === 'running' && Date.now() - started < 60_000) {
        await new Promise((r) => setTimeout(r, 200));
        taken = await b.claim('killed', 'd', Date.now());
      }
      assert.deepEqual(taken, { kind: 'new' }, 'A is dead: B takes the key over without waiting IDEMPOTENCY_CLAIM_MS');
      assert.deepEqual(await b.claim('killed', 'd', Date.now()), { kind: 'running' }, 'now B\'s');
      // a node that stops (close) frees its unanswered claims at once
      const c = PgIdempotencyStore.open(db.url);
      assert.deepEqual(await c.claim('stopped', 'd', 9000), { kind: 'new' });
      assert.deepEqual(await b.claim('stopped', 'd', 9001), { kind: 'running' });
      await c.close();
      assert.deepEqual(await b.claim('stopped', 'd', 9002), { kind: 'new' });
    } finally {
      child.kill('SIGKILL');
      await b.close();
    }
  }));
