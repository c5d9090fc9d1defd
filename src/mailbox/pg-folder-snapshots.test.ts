import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { FolderDelta, FolderSnapshot } from '../core/index.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from '../../test/helpers/pg.js';
import { RawImap } from '../../test/helpers/raw-imap.js';
import { ImapServer } from '../server/imap/index.js';
import { PgFolderSnapshots } from './pg-folder-snapshots.js';
import { importFolder } from './pg-mail-import.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { PgMailStore } from './pg-mail-store.js';

const skip = await pgUnavailable();
const user = 'suzana@dc.uece.br';
const owner = user;
const body = (n: number): Buffer => Buffer.from(`Subject: m${n}\r\n\r\nbody ${n}\r\n`);

function pgTest(name: string, fn: () => Promise<void>): void {
  void test(name, skip ? (t) => t.skip(skip) : fn);
}

interface Node {
  store: PgMailStore;
  folders: PgMailFolders;
}

/** Two nodes on one database, each with one connection (its statistics flushed on demand). */
async function withNodes(fn: (a: Node, b: Node, db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const nodes: Node[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const store = await PgMailStore.open(db.url, { maxConnections: 1 });
      nodes.push({ store, folders: new PgMailFolders(store) });
    }
    await fn(nodes[0], nodes[1], db);
  } finally {
    for (const n of nodes) await n.store.close();
    await db.drop();
  }
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Rows of mail_messages PostgreSQL has read (by scans and through indexes) so far, with the
 * nodes' pending statistics flushed first (each node has one connection: the next statement's
 * end flushes them, before its answer comes back).
 */
async function rowsRead(url: string, nodes: readonly Node[]): Promise<number> {
  for (const n of nodes) await n.store.query('SELECT pg_stat_force_next_flush()', []);
  return admin(url, async (c) => {
    const r = await c.query<{ n: string }>("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_user_tables WHERE relname = 'mail_messages'");
    return Number(r.rows[0].n);
  });
}

/** What a reader sees of a snapshot: its head and every message. */
function seen(s: FolderSnapshot): unknown {
  return { uidValidity: s.uidValidity, uidNext: s.uidNext, highestModseq: s.highestModseq, messages: [...s.list] };
}

pgTest('a sync after one change reads that change, not the folder; every change of another node shows, the same as a full read', () =>
  withNodes(async (a, b, db) => {
    const n = 2000;
    await b.folders.appendMany(user, 'INBOX', Array.from({ length: n }, (_, i) => ({ message: body(i), flags: i % 3 === 0 ? 'S' : '' })));
    // the planner's statistics, as autovacuum keeps them on a live database
    await admin(db.url, (c) => c.query('ANALYZE mail_messages'));
    const first = await a.folders.sync(user, 'INBOX');
    assert.equal(first.list.length, n);

    // one APPEND on the other node, then a sync on this one
    const { uid } = await b.folders.append(user, 'INBOX', body(n), { flags: '' });
    const before = await rowsRead(db.url, [a, b]);
    const next = await a.folders.sync(user, 'INBOX');
    const delta = (await rowsRead(db.url, [a, b])) - before;
    assert.ok(delta <= 2, `a sync after one APPEND read ${delta} rows of mail_messages`);
    assert.equal(next.list.length, n + 1);
    assert.equal(next.list.at(n)!.uid, uid);
    // the last snapshot stays as it was (sessions share it)
    assert.equal(first.list.length, n);

    // the same answer as a full read (a store of its own keeps nothing yet), which reads every row
    const fresh = new PgMailFolders(a.store);
    const before2 = await rowsRead(db.url, [a, b]);
    const whole = await fresh.sync(user, 'INBOX');
    assert.ok((await rowsRead(db.url, [a, b])) - before2 >= n, 'a full read reads every row');
    assert.deepEqual(seen(next), seen(whole));

    // flags, keywords and expunges on the other node: each shows, as a full read has them
    await b.folders.updateFlags(user, 'INBOX', [1, 5, uid], { mode: 'add', flags: 'F', keywords: ['$Important'] });
    await b.store.remove(user, first.list.at(1)!.key, 'INBOX');
    const keys = [first.list.at(10)!.key, first.list.at(1999)!.key];
    await b.folders.createFolder(user, 'Trash').catch(() => undefined);
    await b.folders.move(user, 'INBOX', keys, 'Trash');
    const d = await a.folders.syncDelta(user, 'INBOX', next.version ?? -1);
    assert.ok(d);
    const after = d.snapshot;
    // what changed since `next`, as the other node changed it
    assert.deepEqual(d.changed.map((m) => m.uid), [1, 5, uid]);
    assert.deepEqual([...d.gone].sort((x, y) => x - y), [2, 11, 2000]);
    assert.deepEqual(seen(after), seen(await new PgMailFolders(a.store).sync(user, 'INBOX')));
    assert.equal(after.list.length, n + 1 - 3);
    assert.equal(after.list.at(0)!.flags, 'FS');
    assert.deepEqual(after.list.at(0)!.keywords, ['$Important']);
    assert.ok(![...after.list].some((m) => m.uid === 2 || m.uid === 11 || m.uid === 2000));
    // nothing changed since: the same snapshot; changes since `first` merged; a version not kept: none
    assert.equal(await a.folders.sync(user, 'INBOX'), after);
    const merged = await a.folders.syncDelta(user, 'INBOX', first.version ?? -1);
    assert.deepEqual(merged?.changed.map((m) => m.uid), [1, 5, uid]);
    assert.equal(merged?.gone.length, 3);
    assert.equal(await a.folders.syncDelta(user, 'INBOX', -1), undefined);
  }));

pgTest('a folder deleted and made again under its name is read whole: its new UIDVALIDITY, none of the old messages', () =>
  withNodes(async (a, b) => {
    await a.folders.createFolder(user, 'Lists');
    await a.folders.appendMany(user, 'Lists', [1, 2, 3].map((i) => ({ message: body(i), flags: '' })));
    const old = await a.folders.sync(user, 'Lists');
    assert.equal(old.list.length, 3);
    await b.folders.deleteFolder(user, 'Lists');
    await assert.rejects(a.folders.sync(user, 'Lists'), { kind: 'nonexistent' });
    await b.folders.createFolder(user, 'Lists');
    await b.folders.append(user, 'Lists', body(9), { flags: 'S' });
    // made again with a modseq below the old one's and a UIDVALIDITY above it
    const again = await a.folders.sync(user, 'Lists');
    assert.ok(again.uidValidity > old.uidValidity);
    assert.deepEqual([...again.list].map((m) => [m.uid, m.flags]), [[1, 'S']]);
    // renamed on the other node: the old name is gone, the new one has its messages
    await b.folders.renameFolder(user, 'Lists', 'Lists2');
    await assert.rejects(a.folders.sync(user, 'Lists'), { kind: 'nonexistent' });
    assert.deepEqual([...(await a.folders.sync(user, 'Lists2')).list].map((m) => m.uid), [1]);
  }));

pgTest('the kept snapshots are bounded in folders and in messages, the least recently synced dropped first', () =>
  withNodes(async (a) => {
    for (const f of ['A', 'B', 'C']) {
      await a.folders.createFolder(user, f);
      await a.folders.appendMany(user, f, [1, 2, 3].map((i) => ({ message: body(i), flags: '' })));
    }
    const kept = new PgFolderSnapshots(a.store, { folders: 2, messages: 5 });
    await kept.sync(owner, 'A');
    assert.deepEqual(kept.size, { folders: 1, messages: 3 });
    await kept.sync(owner, 'B');
    // 6 messages are over 5: A goes
    assert.deepEqual(kept.size, { folders: 1, messages: 3 });
    const big = new PgFolderSnapshots(a.store, { folders: 2, messages: 100 });
    for (const f of ['A', 'B', 'C']) await big.sync(owner, f);
    assert.deepEqual(big.size, { folders: 2, messages: 6 });
    assert.equal(await big.sync(owner, 'Nope'), undefined);
    const small = new PgFolderSnapshots(a.store, { folders: 2, messages: 2 });
    assert.equal((await small.sync(owner, 'A'))?.list.length, 3);
    assert.deepEqual(small.size, { folders: 0, messages: 0 });
  }));

pgTest('an IMAP session on one node is told another node\'s changes from the delta (FETCH, EXPUNGE, EXISTS), as a fresh SELECT sees the folder', () =>
  withNodes(async (a, b) => {
    await b.folders.appendMany(user, 'INBOX', [1, 2, 3, 4, 5].map((i) => ({ message: body(i), flags: '' })));
    const deltas: (FolderDelta | undefined)[] = [];
    class Told extends PgMailFolders {
      override async syncDelta(u: string, f: string, version: number): Promise<FolderDelta | undefined> {
        const d = await super.syncDelta(u, f, version);
        deltas.push(d);
        return d;
      }
    }
    const server = new ImapServer({ hostname: 'mx.dc.uece.br', folders: new Told(a.store), authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const c1 = await RawImap.connect(bound.port);
    const c2 = await RawImap.connect(bound.port);
    try {
      await c1.run(`LOGIN ${user} secret`);
      assert.match((await c1.run('SELECT INBOX')).toString(), /\* 5 EXISTS/);
      await b.folders.updateFlags(user, 'INBOX', [2], { mode: 'add', flags: 'F' });
      await b.store.remove(user, (await b.folders.sync(user, 'INBOX')).list.at(2)!.key, 'INBOX');
      await b.folders.append(user, 'INBOX', body(6), { flags: 'S' });
      // the session looks when the other node's NOTIFY arrives (or a second passed)
      let told = '';
      for (let i = 0; i < 100 && !/\* 5 EXISTS/.test(told); i++) {
        told += (await c1.run('NOOP')).toString();
        await sleep(50);
      }
      assert.match(told, /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\)\)\r$/m);
      assert.match(told, /^\* 3 EXPUNGE\r$/m);
      assert.match(told, /^\* 5 EXISTS\r$/m);
      assert.ok(deltas.some((d) => d !== undefined && d.changed.length > 0), 'the session took a delta in');
      await c2.run(`LOGIN ${user} secret`);
      await c2.run('SELECT INBOX');
      // \Recent is the first session's alone (RFC 3501 §2.3.2)
      const lines = (r: Buffer): string => r.toString().split('\r\n').filter((l) => l.startsWith('* ')).join('\n').replace(/ ?\\Recent/g, '');
      assert.equal(lines(await c1.run('UID FETCH 1:* (FLAGS)')), lines(await c2.run('UID FETCH 1:* (FLAGS)')));
      assert.match(lines(await c1.run('UID FETCH 1:* (FLAGS)')), /UID 6 FLAGS \(\\Seen\)/);
    } finally {
      await c1.run('LOGOUT').catch(() => undefined);
      await c2.run('LOGOUT').catch(() => undefined);
      await server.close();
    }
  }));

pgTest('`correio migrate` importing into a folder another node serves: its kept snapshot and a selected IMAP session take the messages in at their next step, as a whole read has them', () =>
  withNodes(async (a, b) => {
    await a.folders.appendMany(user, 'INBOX', [1, 2, 3].map((i) => ({ message: body(i), flags: '' })));
    const server = new ImapServer({ hostname: 'mx.dc.uece.br', folders: a.folders, authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const c = await RawImap.connect(bound.port);
    try {
      await c.run(`LOGIN ${user} secret`);
      assert.match((await c.run('SELECT INBOX')).toString(), /\* 3 EXISTS/);
      const was = await a.folders.sync(user, 'INBOX');
      // the source: the same UIDVALIDITY, later UIDs, MODSEQs at and below the kept HIGHESTMODSEQ
      // and one above it, a HIGHESTMODSEQ far above (raised while the copy runs, the old code hid
      // every message below it from the delta)
      const src = { uidValidity: was.uidValidity, uidNext: 7, highestModseq: was.highestModseq + 50 };
      const imp = await importFolder(b.store, user, 'INBOX', src);
      const imported = [
        { uid: 4, modseq: 1 },
        { uid: 5, modseq: was.highestModseq + 20 },
        { uid: 6, modseq: was.highestModseq },
      ];
      for (const [i, { uid, modseq }] of imported.entries()) {
        // a node syncs between two messages of the copy (its snapshot is kept)
        await a.folders.sync(user, 'INBOX');
        const m = { uid, key: `imported-${uid}`, flags: 'S', keywords: [], modseq, size: 0, receivedAt: 1_700_000_000_000 };
        await imp.add(m, Readable.from([body(uid)]));
        // the session is told at its next step
        let told = '';
        for (let t = 0; t < 100 && !new RegExp(`\\* ${4 + i} EXISTS`).test(told); t++) {
          told += (await c.run('NOOP')).toString();
          await sleep(20);
        }
        assert.match(told, new RegExp(`^\\* ${4 + i} EXISTS\\r$`, 'm'), `message ${uid} is told`);
      }
      await imp.finish();
      const kept = await a.folders.sync(user, 'INBOX');
      const whole = await new PgMailFolders(a.store).sync(user, 'INBOX');
      assert.deepEqual(seen(kept), seen(whole), 'the kept snapshot brought up to date is the folder as a whole read has it');
      assert.deepEqual([...kept.list].map((m) => m.uid), [1, 2, 3, 4, 5, 6]);
      // MODSEQs above what the node had seen (the source's where it was above the folder's), HIGHESTMODSEQ not below the source's
      assert.ok([...kept.list].slice(3).every((m) => m.modseq > was.highestModseq));
      assert.equal(kept.list.at(4)!.modseq, was.highestModseq + 20);
      assert.equal(kept.highestModseq, src.highestModseq);
      assert.match((await c.run('UID FETCH 4:* (FLAGS)')).toString(), /UID 6 FLAGS \(\\Seen\)/);
    } finally {
      await c.run('LOGOUT').catch(() => undefined);
      await server.close();
    }
  }));
