import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { emptyIndex, parseUidIndex, uidListName, type IndexEntry, type UidIndex } from './uid-index.js';
import { UidListFiles, uidLogName } from './uid-log.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';

function withEntry(ix: UidIndex, key: string, e: IndexEntry): UidIndex {
  return { ...ix, uidNext: Math.max(ix.uidNext, e.uid + 1), highestModseq: Math.max(ix.highestModseq, e.modseq), entries: new Map([...ix.entries, [key, e]]) };
}

const inDir = (f: (dir: string) => Promise<void>): Promise<void> => withTempDir('correio-uidlog-', f);

void test('a change is appended to the log; another reader (another process) sees list and log as one', () =>
  inDir(async (dir) => {
    const a = new UidListFiles();
    await a.write(dir, undefined, emptyIndex(7));
    const list = await readFile(join(dir, uidListName), 'utf8');
    assert.match(list, /^C3 7 1 1 0 [0-9a-f]+\n$/);
    let was = await a.read(dir);
    await a.write(dir, was, withEntry(was!.index, 'k1', { uid: 1, modseq: 2, flags: 'S', keywords: ['todo'] }));
    was = await a.read(dir);
    await a.write(dir, was, withEntry(was!.index, 'k2', { uid: 2, modseq: 3, flags: '', keywords: [] }));
    // the list was not rewritten: the two changes are in the log
    assert.equal(await readFile(join(dir, uidListName), 'utf8'), list);
    assert.match(await readFile(join(dir, uidLogName), 'utf8'), /^L [0-9a-f]+\nA 1 2 S k1 todo\nC 2 2 0\nA 2 3 - k2\nC 3 3 0\n$/);
    const b = await new UidListFiles().read(dir);
    assert.equal(b?.index.uidNext, 3);
    assert.equal(b?.index.highestModseq, 3);
    assert.deepEqual([...b.index.entries.keys()], ['k1', 'k2']);
    // a removal and an expunge record
    const entries = new Map(b.index.entries);
    entries.delete('k1');
    await new UidListFiles().write(dir, b, { ...b.index, highestModseq: 4, entries, expunged: [{ modseq: 4, uids: [{ from: 1, to: 1 }] }] });
    // the first reader goes on from where it was: only the new records are read
    const c = await a.read(dir);
    assert.deepEqual([...c!.index.entries.keys()], ['k2']);
    assert.deepEqual(c!.index.expunged, [{ modseq: 4, uids: [{ from: 1, to: 1 }] }]);
  }));

void test('records after the last commit (a write cut short by kill -9) are not read, and the next writer cuts them off', () =>
  inDir(async (dir) => {
    const files = new UidListFiles();
    await files.write(dir, undefined, emptyIndex(9));
    const was = await files.read(dir);
    await files.write(dir, was, withEntry(was!.index, 'k1', { uid: 1, modseq: 2, flags: '', keywords: [] }));
    await appendFile(join(dir, uidLogName), 'A 2 3 - k2\nC 3 3');
    const r = await new UidListFiles().read(dir);
    assert.deepEqual([...r!.index.entries.keys()], ['k1']);
    assert.equal(r!.index.uidNext, 2);
    const w = new UidListFiles();
    const seen = await w.read(dir);
    await w.write(dir, seen, withEntry(seen!.index, 'k3', { uid: 2, modseq: 3, flags: '', keywords: [] }));
    assert.doesNotMatch(await readFile(join(dir, uidLogName), 'utf8'), /k2/);
    assert.deepEqual([...(await new UidListFiles().read(dir))!.index.entries.keys()], ['k1', 'k3']);
  }));

void test('a malformed committed record makes the list unreadable; a log of another generation is ignored', () =>
  inDir(async (dir) => {
    const files = new UidListFiles();
    await files.write(dir, undefined, emptyIndex(9));
    const was = await files.read(dir);
    await files.write(dir, was, withEntry(was!.index, 'k1', { uid: 1, modseq: 2, flags: '', keywords: [] }));
    const log = await readFile(join(dir, uidLogName), 'utf8');
    await writeFile(join(dir, uidLogName), log.replace('A 1 2 - k1', 'A x 2 - k1'));
    assert.equal(await new UidListFiles().read(dir), undefined);
    await writeFile(join(dir, uidLogName), log.replace(/^L [0-9a-f]+/, 'L 0'));
    assert.equal((await new UidListFiles().read(dir))!.index.entries.size, 0);
  }));

void test('a log grown past the list is folded into a new list (new generation, log removed)', () =>
  inDir(async (dir) => {
    const files = new UidListFiles();
    await files.write(dir, undefined, emptyIndex(5));
    const gen0 = parseUidIndex(await readFile(join(dir, uidListName), 'utf8'))!.generation;
    let uid = 1;
    const key = 'x'.repeat(4000);
    while ((await stat(join(dir, uidListName))).size < 1000) {
      const was = await files.read(dir);
      await files.write(dir, was, withEntry(was!.index, `${key}${uid}`, { uid, modseq: uid + 1, flags: '', keywords: [] }));
      uid++;
    }
    const list = parseUidIndex(await readFile(join(dir, uidListName), 'utf8'))!;
    assert.notEqual(list.generation, gen0);
    assert.equal(list.entries.size, uid - 1);
    const fresh = await new UidListFiles().read(dir);
    assert.equal(fresh!.index.uidNext, uid);
    assert.equal(fresh!.index.entries.size, uid - 1);
  }));

void test('a log kept open (keepLogOpen) is written through only while the list and log are as its last append left them', () =>
  inDir(async (dir) => {
    const a = new UidListFiles({ keepLogOpen: true });
    await a.write(dir, undefined, emptyIndex(11));
    let was = await a.read(dir);
    await a.write(dir, was, withEntry(was!.index, 'k1', { uid: 1, modseq: 2, flags: '', keywords: [] }));
    // as a locked step whose stamp found the files unchanged: from last(), through the kept log
    was = a.last(dir);
    await a.write(dir, was, withEntry(was!.index, 'k2', { uid: 2, modseq: 3, flags: '', keywords: [] }));
    // another process folds the log into a new list (the kept log is removed) and starts a new
    // log (another file under the same name)
    const b = new UidListFiles();
    await b.write(dir, undefined, (await b.read(dir))!.index);
    const seen = await b.read(dir);
    await b.write(dir, seen, withEntry(seen!.index, 'k3', { uid: 3, modseq: 4, flags: '', keywords: [] }));
    // the first writer reads again (the stamp changed) and appends: to the new log, not the one it kept open
    was = await a.read(dir);
    assert.ok(was!.logEnd > 0);
    await a.write(dir, was, withEntry(was!.index, 'k4', { uid: 4, modseq: 5, flags: '', keywords: [] }));
    was = a.last(dir);
    await a.write(dir, was, withEntry(was!.index, 'k5', { uid: 5, modseq: 6, flags: '', keywords: [] }));
    const r = await new UidListFiles().read(dir);
    assert.deepEqual([...r!.index.entries.keys()], ['k1', 'k2', 'k3', 'k4', 'k5']);
    assert.equal(r!.index.uidNext, 6);
    a.forget(dir); // closes the kept log
  }));

void test('flushFirst runs after the record is written and before write() resolves; a failing one fails the write and the next read goes on from the last commit', () =>
  inDir(async (dir) => {
    const files = new UidListFiles();
    await files.write(dir, undefined, emptyIndex(5));
    let was = await files.read(dir);
    // the log is new here: written whole, flushFirst before it
    let seen = '';
    await files.write(dir, was, withEntry(was!.index, 'k1', { uid: 1, modseq: 2, flags: '', keywords: [] }), undefined, async () => {
      seen = await readFile(join(dir, uidLogName), 'utf8').catch(() => 'none');
    });
    assert.equal(seen, 'none');
    was = await files.read(dir);
    // an append to the log: its record is already in the file when flushFirst runs
    await files.write(dir, was, withEntry(was!.index, 'k2', { uid: 2, modseq: 3, flags: 'S', keywords: [] }), ['k2'], async () => {
      seen = await readFile(join(dir, uidLogName), 'utf8');
    });
    assert.match(seen, /A 2 3 S k2\nC 3 3 0\n$/);
    was = await files.read(dir);
    await assert.rejects(
      files.write(dir, was, withEntry(was!.index, 'k3', { uid: 3, modseq: 4, flags: '', keywords: [] }), ['k3'], () => Promise.reject(new Error('EIO on the message file'))),
      /EIO on the message file/,
    );
    // the record is in the file (a later flush may carry it to disk) and is part of the list: the
    // caller removes the message's file, and the next listing records its UID as expunged
    assert.deepEqual([...(await new UidListFiles().read(dir))!.index.entries.keys()], ['k1', 'k2', 'k3']);
  }));
