import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MailFolderError } from '../core/index.js';
import { MaildirFolders, MaildirStore, SqliteSearchIndex, formatUidIndex, parseUidIndex, uidListName } from './index.js';
import { uidLogName } from './uid-log.js';

const user = 'suzana@dc.uece.br';
const msg = (n: number): Readable => Readable.from([Buffer.from(`Subject: m${n}\r\n\r\nbody ${n}\r\n`)]);

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-folders-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function open(root: string): { store: MaildirStore; folders: MaildirFolders } {
  const store = new MaildirStore(root, { hostname: 'mx' });
  return { store, folders: new MaildirFolders(store) };
}

void test('sync gives UIDs in arrival order and keeps them across a restart; new/ is left to other readers until \\Recent is taken', () =>
  withRoot(async (root) => {
    const { store, folders } = open(root);
    for (let i = 1; i <= 3; i++) await store.deliver(user, msg(i), { uniqueKey: `q${i}` });
    const a = await folders.sync(user, 'INBOX');
    assert.deepEqual([...a.list].map((m) => m.uid), [1, 2, 3]);
    assert.equal(a.uidNext, 4);
    const dir = join(root, 'dc.uece.br', 'suzana');
    // a sync (an indexer, a JMAP view, an IMAP4rev2 session) moves nothing: mutt still sees new mail
    assert.equal((await readdir(join(dir, 'new'))).length, 3);
    // a new process: same UIDVALIDITY and UIDs
    const b = await open(root).folders.sync(user, 'inbox');
    assert.equal(b.uidValidity, a.uidValidity);
    assert.deepEqual([...b.list].map((m) => [m.uid, m.key]), [...a.list].map((m) => [m.uid, m.key]));
    // an IMAP4rev1 read-write SELECT takes \Recent: the messages move to cur/ with ":2,", UIDs kept
    await open(root).folders.recentFrom(user, 'INBOX', true);
    assert.deepEqual(await readdir(join(dir, 'new')), []);
    assert.ok((await readdir(join(dir, 'cur'))).every((n) => n.endsWith(':2,')));
    const c = await open(root).folders.sync(user, 'INBOX');
    assert.deepEqual([...c.list].map((m) => [m.uid, m.key]), [...a.list].map((m) => [m.uid, m.key]));
  }));

void test('an expunged UID is never reused; POP3-style removal shows at the next sync', () =>
  withRoot(async (root) => {
    const { store, folders } = open(root);
    for (let i = 1; i <= 2; i++) await store.deliver(user, msg(i), { uniqueKey: `q${i}` });
    const a = await folders.sync(user, 'INBOX');
    await store.remove(user, a.list.at(1)!.key);
    await store.deliver(user, msg(3), { uniqueKey: 'q3' });
    const b = await folders.sync(user, 'INBOX');
    assert.deepEqual([...b.list].map((m) => m.uid), [1, 3]);
    assert.equal(b.uidNext, 4);
  }));

void test('two writers (separate locks, as two processes) deliver and sync at once: every message one UID, none shared', () =>
  withRoot(async (root) => {
    const one = open(root);
    const two = open(root);
    await one.folders.sync(user, 'INBOX');
    const work = (w: typeof one, tag: string): Promise<unknown> =>
      (async () => {
        for (let i = 0; i < 15; i++) {
          await w.store.deliver(user, msg(i), { uniqueKey: `${tag}${i}` });
          await w.folders.sync(user, 'INBOX');
        }
      })();
    const done = await Promise.allSettled([work(one, "a"), work(two, "b"), one.folders.append(user, "INBOX", msg(99), { flags: "S" })]);
    for (const d of done) if (d.status === "rejected") throw d.reason;
    const x = await one.folders.sync(user, 'INBOX');
    const y = await two.folders.sync(user, 'INBOX');
    assert.equal(x.list.length, 31);
    assert.equal(new Set([...x.list].map((m) => m.uid)).size, 31);
    assert.deepEqual([...x.list], [...y.list]);
    assert.ok(x.uidNext > Math.max(...[...x.list].map((m) => m.uid)));
  }));

void test('two writers (separate locks, as two processes) APPEND into one folder at once: each answer\'s UID is its message\'s, none shared, every file in cur/, none left in tmp/', () =>
  withRoot(async (root) => {
    const one = open(root);
    const two = open(root);
    const work = (w: typeof one, tag: string): Promise<{ uid: number; text: string }[]> =>
      Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const text = `Subject: ${tag}${i}\r\n\r\nbody ${tag}${i}\r\n`;
          const r = await w.folders.append(user, 'INBOX', Buffer.from(text), { flags: i % 2 ? 'S' : '' });
          return { uid: r.uid, text };
        }),
      );
    const answers = (await Promise.all([work(one, 'a'), work(two, 'b')])).flat();
    assert.equal(new Set(answers.map((a) => a.uid)).size, 40);
    // a third reader (a new process) sees each message under the UID its APPEND answered
    const third = open(root);
    const snap = await third.folders.sync(user, 'INBOX');
    assert.equal(snap.list.length, 40);
    for (const a of answers) {
      const m = [...snap.list].find((x) => x.uid === a.uid);
      assert.ok(m, `UID ${a.uid}`);
      const body = await new Promise<string>((resolve, reject) => {
        let out = '';
        void third.folders.open(user, 'INBOX', m.key).then((s) => s.on('data', (c: Buffer) => (out += c.toString())).on('end', () => resolve(out)).on('error', reject), reject);
      });
      assert.equal(body, a.text);
    }
    const dir = join(root, 'dc.uece.br', 'suzana');
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.equal((await readdir(join(dir, 'cur'))).length, 40);
  }));

void test('a lost or damaged UID list gives a new, greater UIDVALIDITY', () =>
  withRoot(async (root) => {
    let t = 1_700_000_000_000;
    const store = new MaildirStore(root, { hostname: 'mx' });
    const folders = new MaildirFolders(store, { now: () => t });
    await store.deliver(user, msg(1), { uniqueKey: 'q1' });
    const a = await folders.sync(user, 'INBOX');
    await writeFile(join(root, 'dc.uece.br', 'suzana', uidListName), 'garbage\n');
    t += 5000;
    const b = await folders.sync(user, 'INBOX');
    assert.ok(b.uidValidity > a.uidValidity);
    assert.deepEqual([...b.list].map((m) => m.uid), [1]);
  }));

void test('default folders are made once with their special use and subscribed', () =>
  withRoot(async (root) => {
    const { folders } = open(root);
    await folders.ensureDefaultFolders(user);
    await folders.ensureDefaultFolders(user);
    const list = await folders.listFolders(user);
    assert.deepEqual(list.map((f) => [f.name, f.specialUse ?? '']), [
      ['INBOX', ''], ['Archive', '\\Archive'], ['Drafts', '\\Drafts'], ['Junk', '\\Junk'], ['Sent', '\\Sent'], ['Trash', '\\Trash'],
    ]);
    assert.deepEqual((await folders.listSubscriptions(user)).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    const dir = join(root, 'dc.uece.br', 'suzana');
    assert.deepEqual((await readdir(join(dir, '.Sent'))).sort(), ['cur', 'new', 'tmp']);
  }));

void test('create, rename (with inferiors) and delete; bad names and existing names refused', () =>
  withRoot(async (root) => {
    const { folders } = open(root);
    await folders.createFolder(user, 'Work');
    await folders.createFolder(user, 'Work.2024');
    await assert.rejects(folders.createFolder(user, 'Work'), (e: MailFolderError) => e.kind === 'exists');
    for (const bad of ['../x', 'a/b', 'a*', 'a%', '.hidden', 'a..b', 'x\u0000', 'a.INBOX']) {
      await assert.rejects(folders.createFolder(user, bad), (e: MailFolderError) => e.kind === 'bad-name', bad);
    }
    await folders.renameFolder(user, 'Work', 'Job');
    assert.deepEqual((await folders.listFolders(user)).map((f) => f.name), ['INBOX', 'Job', 'Job.2024']);
    await folders.deleteFolder(user, 'Job');
    assert.deepEqual((await folders.listFolders(user)).map((f) => f.name), ['INBOX', 'Job.2024']);
    await assert.rejects(folders.deleteFolder(user, 'INBOX'), (e: MailFolderError) => e.kind === 'cannot');
    await assert.rejects(folders.sync(user, 'Nope'), (e: MailFolderError) => e.kind === 'nonexistent');
  }));

void test('append stores flags in the info suffix and the internal date; copy keeps both', () =>
  withRoot(async (root) => {
    const { store, folders } = open(root);
    await folders.createFolder(user, 'Sent');
    const when = Date.UTC(2020, 0, 2, 3, 4, 5);
    const r = await folders.append(user, 'Sent', msg(1), { flags: 'SR', receivedAt: when });
    assert.equal(r.uid, 1);
    const names = await readdir(join(root, 'dc.uece.br', 'suzana', '.Sent', 'cur'));
    assert.equal(names.length, 1);
    assert.match(names[0], /:2,RS$/);
    const snap = await folders.sync(user, 'Sent');
    assert.equal(snap.list.at(0)!.receivedAt, when);
    const c = await folders.copy(user, 'Sent', [snap.list.at(0)!.key], 'INBOX');
    assert.deepEqual(c.uids, [1]);
    const inbox = await folders.sync(user, 'INBOX');
    assert.equal(inbox.list.at(0)!.flags, 'RS');
    assert.equal(inbox.list.at(0)!.receivedAt, when);
    const body = await readFile(join(root, 'dc.uece.br', 'suzana', 'cur', (await readdir(join(root, 'dc.uece.br', 'suzana', 'cur')))[0]), 'utf8');
    assert.equal(body, 'Subject: m1\n\nbody 1\n');
    void store;
  }));

void test('UID list format: round trip, version 1 upgraded, and malformed lists are refused whole', () => {
  const ix = {
    uidValidity: 7,
    uidNext: 5,
    highestModseq: 9,
    expungeFloor: 0,
    entries: new Map([
      ['a', { uid: 1, modseq: 3, flags: '', keywords: [] }],
      ['b', { uid: 4, modseq: 9, flags: 'RS', keywords: ['$Forwarded', 'todo'] }],
    ]),
    expunged: [{ modseq: 8, uids: [{ from: 2, to: 3 }] }],
  };
  assert.deepEqual(parseUidIndex(formatUidIndex(ix)), ix);
  const v1 = parseUidIndex('C1 7 5\n1 a\n4 b\n');
  assert.equal(v1?.highestModseq, 1);
  assert.deepEqual(v1?.entries.get('b'), { uid: 4, modseq: 1, flags: undefined, keywords: [] });
  for (const bad of ['', 'C1 0 1\n', 'C1 7 3\n3 a\n', 'C1 7 5\n2 a\n1 b\n', 'C1 7 5\nx a\n', 'C2 7 5\n', 'C2 7 5 3 0\n1 4 - a\n', 'C2 7 5 3 0\nE 4 1\n', 'C2 7 5 3 0\n1 1 - a (x\n']) {
    assert.equal(parseUidIndex(bad), undefined, JSON.stringify(bad));
  }
});

void test('MODSEQ: arrivals, flag changes by anyone and expunges raise it; changesSince tells them; it survives a restart', () =>
  withRoot(async (root) => {
    const { store, folders } = open(root);
    for (let i = 1; i <= 3; i++) await store.deliver(user, msg(i), { uniqueKey: `q${i}` });
    const a = await folders.sync(user, 'INBOX');
    const m0 = a.highestModseq;
    assert.ok([...a.list].every((m) => m.modseq === m0 && m.keywords.length === 0));
    // a STORE through the store: one new MODSEQ for the whole change
    const u = await folders.updateFlags(user, 'INBOX', [1, 2, 9], { mode: 'add', flags: 'S', keywords: ['$Forwarded'] });
    assert.equal(u.highestModseq, m0 + 1);
    assert.deepEqual(u.updated.map((m) => [m.uid, m.modseq, m.flags, m.keywords]), [
      [1, m0 + 1, 'S', ['$Forwarded']],
      [2, m0 + 1, 'S', ['$Forwarded']],
    ]);
    assert.deepEqual(u.missing, [9]);
    // nothing to change: no new MODSEQ
    const same = await folders.updateFlags(user, 'INBOX', [1], { mode: 'add', flags: 'S', keywords: ['$forwarded'] });
    assert.equal(same.updated.length, 0);
    assert.equal(same.highestModseq, m0 + 1);
    // UNCHANGEDSINCE: message 1 changed after m0
    const cond = await folders.updateFlags(user, 'INBOX', [1, 3], { mode: 'add', flags: 'F' }, { unchangedSince: m0 });
    assert.deepEqual(cond.modified, [1]);
    assert.deepEqual(cond.updated.map((m) => m.uid), [3]);
    // another program renames a file (flag change) and removes one
    const snap = await folders.sync(user, 'INBOX');
    await store.setFlags(user, snap.list.at(0)!.key, 'RS');
    await store.remove(user, snap.list.at(1)!.key);
    const ch = await folders.changesSince(user, 'INBOX', m0 + 2);
    assert.equal(ch.highestModseq, m0 + 3);
    assert.deepEqual(ch.changed.map((m) => [m.uid, m.flags, m.keywords]), [[1, 'RS', ['$Forwarded']]]);
    assert.deepEqual(ch.vanished, [{ from: 2, to: 2 }]);
    const again = await open(root).folders.changesSince(user, 'INBOX', 0);
    assert.equal(again.highestModseq, m0 + 3);
    assert.deepEqual(again.changed.map((m) => m.uid), [1, 3]);
    assert.deepEqual(again.vanished, [{ from: 2, to: 2 }]);
    // keywords go with COPY
    await folders.copy(user, 'INBOX', [snap.list.at(0)!.key], 'Trash').catch(async () => {
      await folders.createFolder(user, 'Trash');
      await folders.copy(user, 'INBOX', [snap.list.at(0)!.key], 'Trash');
    });
    assert.deepEqual((await folders.sync(user, 'Trash')).list.at(0)!.keywords, ['$Forwarded']);
  }));

void test('the text index does not index a file still being written (read shorter than its W= size): a candidate until it is read whole', () =>
  withRoot(async (root) => {
    const store = new MaildirStore(root, { hostname: 'mx' });
    const index = new SqliteSearchIndex(join(root, 'search.sqlite'));
    const folders = new MaildirFolders(store, { searchIndex: index });
    try {
      await store.deliver(user, msg(1), { uniqueKey: 'q1' });
      await folders.sync(user, 'INBOX');
      // another program writes straight into cur/ (no tmp/ and rename); its name says the whole size
      const whole = 'Subject: long\n\nfirst half\nsecond half with tangerina\n';
      const crlf = Buffer.byteLength(whole) + (whole.match(/\n/g) ?? []).length;
      const file = join(root, 'dc.uece.br', 'suzana', 'cur', `1700000000.M1P1.other,S=${Buffer.byteLength(whole)},W=${crlf}:2,`);
      await writeFile(file, whole.slice(0, whole.indexOf('second')));
      const long = [...(await folders.sync(user, 'INBOX')).list].find((m) => m.size === crlf)!;
      await folders.textIndex!.settled(user);
      assert.ok((await folders.textCandidates(user, 'INBOX', 'tangerina'))!.has(long.uid), 'not indexed half: still a candidate');
      await writeFile(file, whole);
      // the next change of the folder notes it again: now read whole
      await folders.updateFlags(user, 'INBOX', [long.uid], { mode: 'add', flags: 'S' });
      await folders.textIndex!.settled(user);
      assert.deepEqual([...(await index.search('imap:suzana@dc.uece.br', ['tangerina']))].length, 1, 'indexed whole');
      assert.deepEqual([...(await folders.textCandidates(user, 'INBOX', 'tangerina'))!], [long.uid]);
    } finally {
      folders.textIndex!.close();
      await index.close();
    }
  }));

void test('APPENDed octets go to the text index as given (its file is not read again) when the file gives them back the same', () =>
  withRoot(async (root) => {
    const store = new MaildirStore(root, { hostname: 'mx' });
    const index = new SqliteSearchIndex(join(root, 'search.sqlite'));
    const adds: number[] = [];
    const add = index.add.bind(index);
    index.add = (account, docs) => {
      adds.push(docs.length);
      return add(account, docs);
    };
    const opened: string[] = [];
    const open = store.open.bind(store);
    store.open = (u, key, folder) => {
      opened.push(key);
      return open(u, key, folder);
    };
    const told = new Map<string, string>();
    const folders = new MaildirFolders(store, { searchIndex: index, messageRead: (_u, _f, key, octets) => told.set(key, octets.toString('latin1')) });
    try {
      await folders.sync(user, 'INBOX');
      await folders.textIndex!.settled(user);
      const clean = Buffer.from('Subject: clean\r\n\r\nbody with tangerina\r\n');
      // a bare LF is read back as CRLF, and CR CR LF as CRLF: these are read from the file
      const bare = Buffer.from('Subject: bare\r\n\r\nline one\nline two tangerina\r\n');
      const doubled = Buffer.from('Subject: doubled\r\n\r\nline one\r\r\nline two tangerina\r\n');
      const a = await folders.append(user, 'INBOX', clean, { flags: 'S' });
      const b = await folders.append(user, 'INBOX', bare, { flags: '' });
      const c = await folders.append(user, 'INBOX', doubled, { flags: '' });
      await folders.textIndex!.settled(user);
      const snap = await folders.sync(user, 'INBOX');
      const keyOf = (uid: number): string => [...snap.list].find((m) => m.uid === uid)!.key;
      assert.deepEqual(opened.sort(), [keyOf(b.uid), keyOf(c.uid)].sort(), 'only the two that do not round-trip were read');
      assert.equal(told.get(keyOf(a.uid)), clean.toString('latin1'));
      assert.equal(told.get(keyOf(b.uid)), 'Subject: bare\r\n\r\nline one\r\nline two tangerina\r\n', 'as the file gives it back');
      assert.equal(told.get(keyOf(c.uid)), 'Subject: doubled\r\n\r\nline one\r\nline two tangerina\r\n', 'as the file gives it back');
      assert.equal(adds.reduce((x, y) => x + y, 0), 3);
      assert.deepEqual([...(await folders.textCandidates(user, 'INBOX', 'tangerina'))!].sort(), [a.uid, b.uid, c.uid].sort());
    } finally {
      folders.textIndex!.close();
      await index.close();
    }
  }));

void test('a folder check answered from the same turn ends with the turn, and a DELETE forgets it at once', () =>
  withRoot(async (root) => {
    const { folders } = open(root);
    await folders.createFolder(user, 'Gone');
    await folders.createFolder(user, 'Deleted');
    assert.equal(await folders.folderExists(user, 'Gone'), true);
    // removed by another program: seen once the loop turned
    await rm(join(root, 'dc.uece.br', 'suzana', '.Gone'), { recursive: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await folders.folderExists(user, 'Gone'), false);
    assert.equal(await folders.folderExists(user, 'Deleted'), true);
    await folders.deleteFolder(user, 'Deleted');
    assert.equal(await folders.folderExists(user, 'Deleted'), false);
    await assert.rejects(folders.append(user, 'Deleted', Buffer.from('Subject: x\r\n\r\nx\r\n'), { flags: '' }), MailFolderError);
  }));

void test('folderExistsNow answers only what folderExists would: never true for a folder removed or never checked', () =>
  withRoot(async (root) => {
    const { folders } = open(root);
    assert.equal(folders.folderExistsNow(user, 'INBOX'), true);
    await folders.createFolder(user, 'Kept');
    await folders.createFolder(user, 'Gone');
    await folders.createFolder(user, 'Deleted');
    // a new store (another process's view): nothing checked yet, only the walk can tell
    const other = open(root).folders;
    assert.equal(other.folderExistsNow(user, 'Kept'), undefined);
    assert.equal(other.folderExistsNow(user, 'Nowhere'), undefined);
    assert.equal(await other.folderExists(user, 'Kept'), true);
    assert.equal(other.folderExistsNow(user, 'Kept'), true, 'checked in this turn');
    for (const f of ['Gone', 'Deleted']) assert.equal(await folders.folderExists(user, f), true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(other.folderExistsNow(user, 'Kept'), true, 'its directories still the ones checked (one lstat each)');
    // removed by another program: not answered from what was checked before
    await rm(join(root, 'dc.uece.br', 'suzana', '.Gone'), { recursive: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(folders.folderExistsNow(user, 'Gone'), undefined);
    assert.equal(await folders.folderExists(user, 'Gone'), false);
    await folders.deleteFolder(user, 'Deleted');
    assert.equal(folders.folderExistsNow(user, 'Deleted'), undefined, 'a DELETE forgets it at once');
    assert.throws(() => folders.folderExistsNow(user, 'bad/name'), 'a bad name throws as folderExists rejects');
  }));

void test("an APPEND's step stamps the UID list and log from what it appended (two stats of them, not four); another process's append to the log is still seen", () =>
  withRoot(async (root) => {
    const { folders } = open(root);
    const octets = (n: number): Buffer => Buffer.from(`Subject: a${n}\r\n\r\nbody ${n}\r\n`);
    // the list, then a new log (both made whole: new inodes, stat'ed), then appends to the log
    for (let i = 1; i <= 3; i++) assert.equal((await folders.append(user, 'INBOX', octets(i), { flags: '' })).uid, i);
    // the default export is node:fs's object, whose functions the named imports follow once synced
    const node = fs as { statSync: typeof fs.statSync };
    const stat = node.statSync;
    let stats = 0;
    node.statSync = ((p: fs.PathLike, o?: fs.StatSyncOptions) => {
      if (String(p).endsWith(uidListName) || String(p).endsWith(uidLogName)) stats++;
      return stat(p, o);
    }) as typeof fs.statSync;
    syncBuiltinESMExports();
    try {
      assert.equal((await folders.append(user, 'INBOX', octets(4), { flags: '' })).uid, 4);
    } finally {
      node.statSync = stat;
      syncBuiltinESMExports();
    }
    // the step's stamp before it reads (list and log), none after its append (four before)
    assert.equal(stats, 2);
    // another process appends to the log under the lock: its size is not the one worked out here
    assert.equal((await open(root).folders.append(user, 'INBOX', octets(5), { flags: '' })).uid, 5);
    const snap = await folders.sync(user, 'INBOX');
    assert.deepEqual([...snap.list].map((m) => m.uid), [1, 2, 3, 4, 5]);
    assert.equal((await folders.append(user, 'INBOX', octets(6), { flags: '' })).uid, 6);
  }));

void test('an APPEND whose rename into cur/ a power loss undid is put back from tmp/ with its UID, flags and keywords; one cut short is removed, its UID expunged; a file without a UID is left alone', () =>
  withRoot(async (root) => {
    const { folders } = open(root);
    const a = await folders.append(user, 'INBOX', Buffer.from('Subject: a\r\n\r\nwhole\r\n'), { flags: 'SF', keywords: ['$Work'] });
    const b = await folders.append(user, 'INBOX', Buffer.from('Subject: b\r\n\r\ncut short\r\n'), { flags: '' });
    const dir = join(root, 'dc.uece.br', 'suzana');
    const names = (await readdir(join(dir, 'cur'))).sort();
    assert.equal(names.length, 2);
    assert.ok(names.every((n) => n.startsWith('imap-')));
    // what a power loss leaves when the UID log reached the disk and the renames did not: each
    // file still in tmp/ under its temporary name; b's data did not reach it either (never answered)
    const tmpName = (n: string): string => `${n.slice(0, n.indexOf('.'))}.4242_q0.mx`;
    for (const n of names) fs.renameSync(join(dir, 'cur', n), join(dir, 'tmp', tmpName(n)));
    const bName = names.find((n) => n.endsWith(':2,'))!;
    fs.truncateSync(join(dir, 'tmp', tmpName(bName)), 4);
    // an APPEND still being written (no UID yet) is not touched
    await writeFile(join(dir, 'tmp', 'imap-0000000000000zzzzz.4243_q0.mx'), 'Subject: c\r\n');
    const s = await open(root).folders.sync(user, 'INBOX');
    assert.deepEqual([...s.list].map((m) => [m.uid, m.flags, m.keywords]), [[a.uid, 'FS', ['$Work']]]);
    assert.equal(s.uidNext, b.uid + 1);
    assert.deepEqual(await readdir(join(dir, 'tmp')), ['imap-0000000000000zzzzz.4243_q0.mx']);
    assert.deepEqual(await readdir(join(dir, 'cur')), [names.find((n) => n !== bName)]);
    assert.match(await readFile(join(dir, 'cur', names.find((n) => n !== bName)!), 'utf8'), /whole/);
    // b's UID is recorded as expunged, never given again
    const c = await open(root).folders.append(user, 'INBOX', Buffer.from('Subject: c\r\n\r\nnext\r\n'), { flags: '' });
    assert.equal(c.uid, b.uid + 1);
  }));
