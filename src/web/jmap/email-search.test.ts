import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { MailFolderStore } from '../../core/index.js';
import { MaildirFolders, MaildirStore, SqliteSearchIndex } from '../../mailbox/index.js';
import { EmailSearch, type IndexedEmail } from './email-search.js';
import { accountIdOf } from './mail-ids.js';

const user = 'alice@example.org';

async function withStore(fn: (o: { root: string; store: MaildirStore; folders: MaildirFolders; index: SqliteSearchIndex }) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-email-search-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const index = new SqliteSearchIndex(join(root, 'search.sqlite'));
  try {
    await fn({ root, store, folders: new MaildirFolders(store), index });
  } finally {
    await index.close();
    await rm(root, { recursive: true, force: true });
  }
}

const mail = (subject: string, body: string): Readable => Readable.from([Buffer.from(`From: pascal@example.net\r\nSubject: ${subject}\r\n\r\n${body}\r\n`)]);

/** The INBOX as the indexes see it (ids: the keys). */
async function emailsOf(folders: MailFolderStore): Promise<IndexedEmail[]> {
  return [...(await folders.sync(user, 'INBOX')).list].map((m) => ({ id: `e${m.key}`, blobId: `b${m.key}`, folder: 'INBOX', key: m.key, size: m.size }));
}

void test('a message that cannot be read during a catch-up is a search candidate, and is indexed at the next catch-up once readable', () =>
  withStore(async ({ store, folders, index }) => {
    await store.deliver(user, mail('one', 'alpha banana'), { uniqueKey: 'one' });
    await store.deliver(user, mail('two', 'beta cherry'), { uniqueKey: 'two' });
    const emails = await emailsOf(folders);
    const two = emails.find((e) => e.key.startsWith('two'))!;
    // the store refuses to open "two" (a permission, a disk error) until told otherwise
    let broken = true;
    const flaky = { open: (u: string, f: string, k: string) => (broken && k === two.key ? Promise.reject(new Error('EACCES')) : folders.open(u, f, k)) } as unknown as MailFolderStore;
    const search = new EmailSearch(index);
    await search.catchUp(user, emails, flaky);
    assert.deepEqual([...(await index.search(accountIdOf(user), ['cherry']))], [], 'not read, not indexed');
    assert.ok((await search.candidates(user, emails, flaky, ['cherry'])).has(two.id), 'what the index does not hold is a candidate');
    assert.deepEqual([...(await search.candidates(user, emails, flaky, ['banana']))].sort(), emails.map((e) => e.id).sort(), 'the hit, and the unindexed one');
    broken = false;
    // the same list of Emails (the view did not change): the catch-up was not complete, so it reads "two" again
    await search.candidates(user, emails, flaky, ['cherry']);
    assert.deepEqual([...(await index.search(accountIdOf(user), ['cherry']))], [two.id]);
  }));

void test('a file still being written (shorter than its listed size) is not indexed half; read whole at the next catch-up', () =>
  withStore(async ({ store, folders, index }) => {
    await store.deliver(user, mail('one', 'alpha banana'), { uniqueKey: 'one' });
    // another program writes straight into cur/ (no tmp/ and rename): the name says the whole size (W=)
    const whole = 'From: pascal@example.net\nSubject: long\n\nfirst half\nsecond half with tangerina\n';
    const crlfSize = Buffer.byteLength(whole) + (whole.match(/\n/g) ?? []).length;
    const dir = join(store.root, 'example.org', 'alice', 'cur');
    const file = join(dir, `1700000000.M1P1.other,S=${Buffer.byteLength(whole)},W=${crlfSize}:2,`);
    await writeFile(file, whole.slice(0, whole.indexOf('second')));
    const emails = await emailsOf(folders);
    const long = emails.find((e) => e.size === crlfSize)!;
    assert.ok(long, 'listed with the size of its name');
    const search = new EmailSearch(index);
    await search.catchUp(user, emails, folders);
    assert.deepEqual([...(await index.search(accountIdOf(user), ['first']))], [], 'the half-written file is not indexed');
    assert.ok((await search.candidates(user, emails, folders, ['tangerina'])).has(long.id), 'a candidate meanwhile');
    await writeFile(file, whole);
    await search.catchUp(user, emails, folders);
    assert.deepEqual([...(await index.search(accountIdOf(user), ['tangerina']))], [long.id]);
  }));
