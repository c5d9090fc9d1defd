import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { FolderTextIndex, maxIndexedMessage } from './folder-text-index.js';
import { SqliteSearchIndex } from './sqlite-search-index.js';

const text = (word: string): Buffer => Buffer.from(`Subject: ${word}\r\n\r\nbody with ${word}\r\n`);

void test('documents are kept per folder: a folder noted again drops only its own gone messages, forget drops a folder and its children, and each read is told', async () => {
  const index = new SqliteSearchIndex(':memory:');
  const files = new Map<string, Buffer>([
    ['/a', text('laranja')],
    ['/b', text('laranja')],
    ['Sent/c', text('laranja')],
    ['Sent.Old/d', text('laranja')],
  ]);
  const open = (_user: string, folder: string, key: string): Promise<Readable> => Promise.resolve(Readable.from([files.get(`${folder}/${key}`)!]));
  const reads: string[] = [];
  const noted = (folder: string, keys: string[]) => keys.map((key) => ({ key, size: files.get(`${folder}/${key}`)!.length }));
  try {
    const first = new FolderTextIndex(index, open, { read: (_u, folder, key, octets) => reads.push(`${folder}/${key} ${octets.length}`) });
    first.note('ana', '', noted('', ['a', 'b']));
    first.note('ana', 'Sent', noted('Sent', ['c']));
    first.note('ana', 'Sent.Old', noted('Sent.Old', ['d']));
    await first.settled('ana');
    assert.deepEqual(reads.sort(), [...files].map(([id, b]) => `${id} ${b.length}`).sort());
    const hits = async (): Promise<string[]> => [...(await index.search('imap:ana', ['laranja']))].sort();
    assert.deepEqual(await hits(), ['/a', '/b', 'Sent.Old/d', 'Sent/c']);
    // a new process: the ids are read back from the index, grouped by folder
    const gone: string[] = [];
    const second = new FolderTextIndex(index, open, { gone: (_u, folder, keys) => gone.push(...keys.map((key) => `${folder}/${key}`)) });
    // b gone from INBOX: only it leaves; Sent's documents stay
    second.note('ana', '', noted('', ['a']));
    await second.settled('ana');
    assert.deepEqual(await hits(), ['/a', 'Sent.Old/d', 'Sent/c']);
    assert.deepEqual(gone, ['/b'], 'told gone: b only');
    assert.deepEqual([...((await second.candidates('ana', 'Sent', ['c', 'x'], 'laranja')) ?? [])].sort(), ['c', 'x'], 'x is not indexed: a candidate');
    await second.forget('ana', 'Sent');
    assert.deepEqual(await hits(), ['/a']);
    assert.deepEqual(gone.sort(), ['/b', 'Sent.Old/d', 'Sent/c'], 'a forgotten folder\'s messages (and its subfolders\') told gone');
    // a forgotten folder's messages are not taken as indexed
    assert.deepEqual([...((await second.candidates('ana', 'Sent', ['c'], 'nada')) ?? [])], ['c']);
    assert.equal(reads.length, files.size, 'the second index was given no reader');
  } finally {
    await index.close();
  }
});

void test('a message listed over maxIndexedMessage is not read: it stays a candidate and is not told to read', async () => {
  const index = new SqliteSearchIndex(':memory:');
  const small = text('laranja');
  const opened: string[] = [];
  const open = (_user: string, _folder: string, key: string): Promise<Readable> => {
    opened.push(key);
    return Promise.resolve(Readable.from([small]));
  };
  const reads: string[] = [];
  try {
    const ix = new FolderTextIndex(index, open, { read: (_u, _f, key) => reads.push(key) });
    ix.note('ana', '', [{ key: 'small', size: small.length }, { key: 'big', size: maxIndexedMessage + 1 }]);
    await ix.settled('ana');
    assert.deepEqual(opened, ['small'], 'the big message was never opened');
    assert.deepEqual(reads, ['small']);
    assert.deepEqual([...((await ix.candidates('ana', '', ['small', 'big'], 'nada')) ?? [])], ['big'], 'not indexed: always a candidate');
  } finally {
    await index.close();
  }
});

void test('changes noted within the batch wait are indexed as one batch; settled() does not wait for the wait', async () => {
  const index = new SqliteSearchIndex(':memory:');
  const adds: number[] = [];
  const add = index.add.bind(index);
  index.add = (account, docs) => {
    adds.push(docs.length);
    return add(account, docs);
  };
  const files = new Map(['a', 'b', 'c'].map((k) => [k, text(`laranja ${k}`)]));
  const open = (_user: string, _folder: string, key: string): Promise<Readable> => Promise.resolve(Readable.from([files.get(key)!]));
  try {
    // a wait no test outlasts: only settled() ends it
    const ix = new FolderTextIndex(index, open, undefined, 3_600_000);
    ix.note('ana', '', []);
    await ix.settled('ana');
    for (const key of ['a', 'b', 'c']) {
      ix.noteChanges('ana', '', [{ key, size: files.get(key)!.length }], []);
      // a turn of the event loop between APPENDs
      await new Promise((resolve) => setImmediate(resolve));
    }
    await ix.settled('ana');
    assert.deepEqual(adds.filter((n) => n > 0), [3]);
    assert.deepEqual([...(await index.search('imap:ana', ['laranja']))].sort(), ['/a', '/b', '/c']);
  } finally {
    await index.close();
  }
});

void test('a run of changes that never pauses is still taken up, once the batch is maxWait old', async () => {
  const index = new SqliteSearchIndex(':memory:');
  const files = new Map(['a', 'b'].map((k) => [k, text(`laranja ${k}`)]));
  const open = (_user: string, _folder: string, key: string): Promise<Readable> => Promise.resolve(Readable.from([files.get(key)!]));
  try {
    // the quiet wait is never reached in the test: only the batch's age starts the work
    const ix = new FolderTextIndex(index, open, undefined, 3_600_000, 50);
    for (const key of ['a', 'b']) ix.noteChanges('ana', '', [{ key, size: files.get(key)!.length }], []);
    for (const until = Date.now() + 20_000; (await index.search('imap:ana', ['laranja'])).size < 2; ) {
      assert.ok(Date.now() < until, 'indexed without settled()');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await index.close();
  }
});
