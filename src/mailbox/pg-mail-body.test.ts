import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, pgScalar, pgUnavailable, type TestDatabase } from '../../test/helpers/pg.js';
import { crlfBody, CrlfPieces } from './pg-mail-body.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { PgMailStore } from './pg-mail-store.js';

const skip = await pgUnavailable();
const user = 'big@dc.uece.br';
const MB = 1024 * 1024;

function pgTest(name: string, fn: () => Promise<void>): void {
  void test(name, skip ? (t) => t.skip(skip) : fn);
}

const scalar = pgScalar;

async function withStore(fn: (store: PgMailStore, db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const store = await PgMailStore.open(db.url, { maxConnections: 4 });
  try {
    await fn(store, db);
  } finally {
    await store.close();
    await db.drop();
  }
}

/** A message of about `size` octets with LF line ends (stored with CRLF), `late` written past its first 512 KiB. */
function bigMessage(size: number, late: string): Buffer[] {
  const pieces = [Buffer.from('From: a@dc.uece.br\nSubject: early-subject\n\nfirst-words here\n')];
  const line = Buffer.from(`${'y'.repeat(70)}\n`.repeat(1000));
  for (let n = 0; n < size; n += line.length) pieces.push(n > 512 * 1024 && n < 512 * 1024 + line.length ? Buffer.from(`${late}\n`) : line);
  // pieces cut between CR and LF too
  pieces.push(Buffer.from('end\r'), Buffer.from('\nlast\n'));
  return pieces;
}

void test('CrlfPieces gives what crlfBody gives to the whole, however the octets are cut', () => {
  const whole = Buffer.from('a\nb\r\nc\r\r\n\n\rd\n\r\n\n');
  for (let cut1 = 0; cut1 <= whole.length; cut1++) {
    for (let cut2 = cut1; cut2 <= whole.length; cut2++) {
      const f = new CrlfPieces();
      const out = Buffer.concat([whole.subarray(0, cut1), whole.subarray(cut1, cut2), whole.subarray(cut2)].map((b) => f.fix(b)));
      assert.equal(out.toString('latin1'), crlfBody(whole).toString('latin1'), `cut at ${cut1}, ${cut2}`);
    }
  }
});

pgTest('a 3 MiB message is streamed into chunk rows, read back whole (CRLF), found by its first words only, stored once, gone with its last message', () =>
  withStore(async (store, db) => {
    const pieces = bigMessage(3 * MB, 'late-marker');
    const expected = crlfBody(Buffer.concat(pieces));
    const a = await store.deliver(user, Readable.from(pieces), { uniqueKey: 'big-1' });
    const rows = Math.ceil(expected.length / MB);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), rows);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies WHERE chunk_key IS NOT NULL AND octet_length(body) = 0 AND search IS NULL'), 1);
    const got = await buffer(await store.open(user, a.key));
    assert.equal(got.length, expected.length);
    assert.ok(got.equals(expected), 'read back as stored');
    assert.equal((await store.list(user))[0].size, expected.length);
    // the body row's key is the SHA-256 of its content, as a body stored whole
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies WHERE hash = $1', [createHash('sha256').update(expected).digest()]), 1);
    // JMAP text: the header and the first 256 KiB, not what lies past them
    const folders = new PgMailFolders(store);
    assert.equal((await folders.wordCandidates(user, ['first-words']))?.get('INBOX')?.size, 1);
    assert.equal((await folders.wordCandidates(user, ['early-subject']))?.get('INBOX')?.size, 1);
    assert.equal((await folders.wordCandidates(user, ['late-marker']))?.get('INBOX'), undefined);

    // the same content again (APPEND): one body, its chunks once
    await store.deliver(user, Readable.from(pieces), { uniqueKey: 'big-2' });
    const b = await folders.append(user, 'INBOX', Readable.from(pieces), { flags: '' });
    assert.equal(b.uid, 3);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies'), 1);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), rows);
    for (const m of await store.list(user)) assert.ok((await buffer(await store.open(user, m.key))).equals(expected));
    // expunged: the body and its chunks go with the last message naming it
    const keys = (await store.list(user)).map((m) => m.key);
    await store.remove(user, keys[0]);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), rows);
    for (const k of keys.slice(1)) await store.remove(user, k);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies'), 0);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), 0);
  }));

pgTest('a body stream that fails half-way stores nothing: no message, no chunk; the store still delivers', () =>
  withStore(async (store, db) => {
    async function* failing(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 3; i++) yield Buffer.alloc(MB, 0x61);
      throw new Error('sender gone');
    }
    await assert.rejects(store.deliver(user, Readable.from(failing()), { uniqueKey: 'cut-1' }));
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), 0);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_messages'), 0);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_deliveries'), 0);
    const { key } = await store.deliver(user, Readable.from([Buffer.from('Subject: small\r\n\r\nok\r\n')]), { uniqueKey: 'cut-1' });
    assert.equal((await buffer(await store.open(user, key))).toString(), 'Subject: small\r\n\r\nok\r\n');
  }));

pgTest('kill -9 of a process in the middle of a streamed APPEND leaves no chunk; chunks of no body are swept at open', async () => {
  if (skip) return;
  const db = await createTestDatabase();
  try {
    const storeModule = fileURLToPath(new URL('./index.js', import.meta.url));
    // a process appending an endless body: chunks are written while it runs
    const script = `
      const { PgMailStore, PgMailFolders } = await import(${JSON.stringify(storeModule)});
      const { Readable } = await import('node:stream');
      const store = await PgMailStore.open(${JSON.stringify(db.url)}, { maxConnections: 2 });
      async function* endless() { for (;;) { yield Buffer.alloc(256 * 1024, 0x62); await new Promise((r) => setTimeout(r, 5)); } }
      await new PgMailFolders(store).append('big@dc.uece.br', 'INBOX', Readable.from(endless()), { flags: '' });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const writing = `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'correio mail' AND backend_xid IS NOT NULL`;
    // once migrated (the migration's own transaction has written too), the append's
    const migrated = `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'mail_body_chunks'`;
    for (let i = 0; i < 600 && (await scalar(db.url, migrated)) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 600 && (await scalar(db.url, writing, [db.name])) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await scalar(db.url, writing, [db.name])) > 0, 'the append is writing chunks');
    // a few chunks in
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // PostgreSQL rolls back the transaction of the closed connection
    for (let i = 0; i < 300 && (await scalar(db.url, writing, [db.name])) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await scalar(db.url, writing, [db.name]), 0);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), 0);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_messages'), 0);
    // a chunk of no body (as a fault could leave) is removed when a store opens
    await scalar(db.url, `INSERT INTO mail_body_chunks (chunk_key, seq, data) VALUES ('orphan', 1, '\\x00') RETURNING 1 AS n`);
    const store = await PgMailStore.open(db.url, { maxConnections: 2 });
    await store.close();
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_body_chunks'), 0);
  } finally {
    await db.drop();
  }
});
