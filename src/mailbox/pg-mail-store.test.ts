import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import pg from 'pg';
import { MailFolderError } from '../core/index.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from '../../test/helpers/pg.js';
import { ImapFlow } from 'imapflow';
import { ImapServer } from '../server/imap/index.js';
import { Pop3Server } from '../server/pop3/index.js';
import { LineClient } from '../../test/helpers/net.js';
import { python3, pythonWithModule } from '../../test/helpers/python.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { narrowingQuery } from './search-words.js';
import { PgMailStore } from './pg-mail-store.js';

const skip = await pgUnavailable();
const user = 'suzana@dc.uece.br';
const msg = (n: number | string, extra = ''): Readable => Readable.from([Buffer.from(`Subject: m${n}\r\n${extra}\r\nbody ${n}\r\n`)]);

interface Node {
  store: PgMailStore;
  folders: PgMailFolders;
}

async function withNodes(count: number, fn: (nodes: Node[], db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const nodes: Node[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const store = await PgMailStore.open(db.url, { maxConnections: 4 });
      nodes.push({ store, folders: new PgMailFolders(store) });
    }
    await fn(nodes, db);
  } finally {
    for (const n of nodes) await n.store.close();
    await db.drop();
  }
}

async function scalar(url: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>(sql)).rows[0].n);
  } finally {
    await c.end();
  }
}

function pgTest(name: string, fn: () => Promise<void>): void {
  void test(name, skip ? (t) => t.skip(skip) : fn);
}

pgTest('delivery is idempotent on its key across nodes, even after the first copy was moved away', () =>
  withNodes(2, async ([a, b]) => {
    const [k1, k2] = await Promise.all([a.store.deliver(user, msg(1), { uniqueKey: 'q1-1' }), b.store.deliver(user, msg(1), { uniqueKey: 'q1-1' })]);
    assert.equal(k1.key, k2.key);
    assert.equal((await a.store.list(user)).length, 1);
    // a reader moves it to another folder (COPY + expunge): a late redelivery stores nothing
    await a.folders.createFolder(user, 'Archive');
    await a.folders.copy(user, 'INBOX', [k1.key], 'Archive');
    await a.folders.remove(user, 'INBOX', k1.key);
    await b.store.deliver(user, msg(1), { uniqueKey: 'q1-1' });
    assert.equal((await b.store.list(user)).length, 0);
    assert.equal((await b.store.list(user, 'Archive')).length, 1);
  }));

pgTest('two nodes delivering to one folder at once: every message one UID, UIDs never shared or reused', () =>
  withNodes(2, async ([a, b]) => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).store.deliver(user, msg(i), { uniqueKey: `e${i}` })),
    );
    const snap = await a.folders.sync(user, 'INBOX');
    assert.deepEqual([...snap.list].map((m) => m.uid), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(snap.uidNext, 21);
    await b.store.remove(user, snap.list.at(19)!.key);
    await b.store.deliver(user, msg(99), { uniqueKey: 'e99' });
    const after = await a.folders.sync(user, 'inbox');
    assert.equal(after.uidValidity, snap.uidValidity);
    assert.deepEqual([...after.list].slice(-2).map((m) => m.uid), [19, 21]);
  }));

pgTest('MODSEQ: flags, keywords and expunges raise it; changesSince gives the changed and the vanished', () =>
  withNodes(1, async ([{ store, folders }]) => {
    for (let i = 1; i <= 4; i++) await store.deliver(user, msg(i), { uniqueKey: `m${i}` });
    const s0 = await folders.sync(user, 'INBOX');
    const r = await folders.updateFlags(user, 'INBOX', [1, 2, 9], { mode: 'add', flags: 'S', keywords: ['$Forwarded'] });
    assert.deepEqual(r.updated.map((m) => m.uid), [1, 2]);
    assert.deepEqual(r.missing, [9]);
    assert.equal(r.highestModseq, s0.highestModseq + 1);
    assert.deepEqual(r.updated[0].keywords, ['$Forwarded']);
    // RFC 7162 §3.1.3: UNCHANGEDSINCE below a message's MODSEQ leaves it alone
    const r2 = await folders.updateFlags(user, 'INBOX', [1, 3], { mode: 'add', flags: 'F' }, { unchangedSince: s0.highestModseq });
    assert.deepEqual(r2.modified, [1]);
    assert.deepEqual(r2.updated.map((m) => m.uid), [3]);
    const size = [...s0.list].reduce((a, m) => a + m.size, 0);
    assert.deepEqual(await store.usage(user), { storage: size, messages: 4 });
    await folders.remove(user, 'INBOX', s0.list.at(3)!.key);
    // the usage a quota is checked against: every folder, what is left
    assert.deepEqual(await store.usage(user), { storage: size - s0.list.at(3)!.size, messages: 3 });
    assert.deepEqual(await store.usage('nobody@dc.uece.br'), { storage: 0, messages: 0 });
    const ch = await folders.changesSince(user, 'INBOX', s0.highestModseq);
    assert.deepEqual(ch.changed.map((m) => [m.uid, m.flags]), [[1, 'S'], [2, 'S'], [3, 'F']]);
    assert.deepEqual(ch.vanished, [{ from: 4, to: 4 }]);
    assert.ok(ch.highestModseq > r2.highestModseq);
    // POP3's face sees the same flags
    assert.deepEqual((await store.list(user)).map((m) => m.flags), ['S', 'S', 'F']);
  }));

pgTest('append and copy keep flags, keywords and date; a copy stores no second body; bodies go with their last message', () =>
  withNodes(1, async ([{ folders }], db) => {
    await folders.ensureDefaultFolders(user);
    const a = await folders.append(user, 'Drafts', Readable.from([Buffer.from('Subject: draft\nbare LF\n')]), {
      flags: 'DS', keywords: ['$Draft1'], receivedAt: Date.UTC(2024, 0, 2),
    });
    assert.equal(a.uid, 1);
    const d = (await folders.sync(user, 'Drafts')).list.at(0)!;
    assert.equal(d.flags, 'DS');
    assert.equal(d.receivedAt, Date.UTC(2024, 0, 2));
    // stored with CRLF: size and content as IMAP serves them
    assert.equal((await buffer(await folders.open(user, 'Drafts', d.key))).toString(), 'Subject: draft\r\nbare LF\r\n');
    assert.equal(d.size, 'Subject: draft\r\nbare LF\r\n'.length);
    const c = await folders.copy(user, 'Drafts', [d.key, 'nosuchkey'], 'Archive');
    assert.deepEqual(c.uids, [1]);
    const copied = (await folders.sync(user, 'Archive')).list.at(0)!;
    assert.deepEqual([copied.flags, copied.keywords, copied.receivedAt], ['DS', ['$Draft1'], Date.UTC(2024, 0, 2)]);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies'), 1);
    await folders.remove(user, 'Drafts', d.key);
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies'), 1);
    await folders.deleteFolder(user, 'Archive');
    assert.equal(await scalar(db.url, 'SELECT count(*) AS n FROM mail_bodies'), 0);
  }));

pgTest('folders: defaults with special use and subscriptions, rename with inferiors, errors by kind', () =>
  withNodes(1, async ([{ folders }]) => {
    await folders.ensureDefaultFolders(user);
    const list = await folders.listFolders(user);
    assert.deepEqual(list.map((f) => f.name), ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);
    assert.equal(list.find((f) => f.name === 'Sent')?.specialUse, '\\Sent');
    assert.deepEqual(await folders.listSubscriptions(user), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    await folders.createFolder(user, 'Work');
    await folders.createFolder(user, 'Work.2024');
    const before = await folders.sync(user, 'Work.2024');
    await folders.renameFolder(user, 'Work', 'Job');
    assert.ok(await folders.folderExists(user, 'Job.2024'));
    assert.equal(await folders.folderExists(user, 'Work'), false);
    assert.equal((await folders.sync(user, 'Job.2024')).uidValidity, before.uidValidity);
    const kind = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof MailFolderError ? e.kind : String(e)));
    assert.equal(await kind(folders.createFolder(user, 'Job')), 'exists');
    assert.equal(await kind(folders.renameFolder(user, 'Job', 'Sent')), 'exists');
    assert.equal(await kind(folders.deleteFolder(user, 'INBOX')), 'cannot');
    assert.equal(await kind(folders.sync(user, 'Nope')), 'nonexistent');
    assert.equal(await kind(folders.createFolder(user, 'a/b')), 'bad-name');
    // a folder deleted and made again gets a new, greater UIDVALIDITY
    await folders.deleteFolder(user, 'Job.2024');
    await folders.createFolder(user, 'Job.2024');
    assert.ok((await folders.sync(user, 'Job.2024')).uidValidity > before.uidValidity);
    await folders.setSubscribed(user, 'Job', true);
    await folders.setSubscribed(user, 'Trash', false);
    assert.deepEqual(await folders.listSubscriptions(user), ['Archive', 'Drafts', 'INBOX', 'Job', 'Junk', 'Sent']);
  }));

pgTest('a delivery on one node wakes a watcher on another (LISTEN/NOTIFY), and a broken LISTEN connection resyncs', () =>
  withNodes(2, async ([a, b], db) => {
    await a.folders.sync(user, 'INBOX');
    let calls = 0;
    let wake: () => void = () => undefined;
    const woken = (): Promise<void> => new Promise((resolve) => (wake = resolve));
    const stop = a.folders.watch(user, 'INBOX', () => {
      calls++;
      wake();
    });
    await a.store.notifier.ready();
    let w = woken();
    await b.store.deliver(user, msg(1), { uniqueKey: 'n1' });
    await w;
    assert.ok(calls >= 1);
    assert.equal((await a.folders.sync(user, 'INBOX')).list.length, 1);
    // the LISTEN connection is cut: the watcher is called once it is back (a change may be missed meanwhile)
    w = woken();
    const killed = await scalar(db.url, "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'correio mail notify' AND datname = current_database()");
    assert.ok(killed >= 1);
    await w;
    // and notifications flow again afterwards
    for (let i = 0; i < 50 && !a.store.notifier.listening; i++) await new Promise((r) => setTimeout(r, 100));
    w = woken();
    await b.store.deliver(user, msg(2), { uniqueKey: 'n2' });
    await w;
    stop();
  }));

pgTest('full text: the body vector finds decoded words of text parts, not of attachments', () =>
  withNodes(1, async ([{ store, folders }]) => {
    const mime = [
      'Subject: =?utf-8?q?Relat=C3=B3rio?=',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('a reunião de quinta-feira\r\n').toString('base64'),
      '--b',
      'Content-Type: application/octet-stream',
      '',
      'secretword',
      '--b--',
      '',
    ].join('\r\n');
    await store.deliver(user, Readable.from([Buffer.from(mime)]), { uniqueKey: 'f1' });
    await store.deliver(user, msg(2), { uniqueKey: 'f2' });
    assert.deepEqual(await folders.searchText(user, 'INBOX', 'reunião'), [1]);
    assert.deepEqual(await folders.searchText(user, 'INBOX', 'relatório'), [1]);
    assert.deepEqual(await folders.searchText(user, 'INBOX', 'secretword'), []);
    assert.deepEqual(await folders.searchText(user, 'INBOX', 'body'), [2]);
  }));

void test('narrowingQuery: only words the needle bounds with white space narrow a substring search', () => {
  const cases: [string, string | undefined][] = [
    ['hello', undefined], // may be the inside of "othello"
    ['hello world', 'world:*'],
    ['a big deal', 'big & deal:*'],
    [' hello ', 'hello'],
    ['olá mundo', 'mundo:*'],
    ['reunião geral', 'geral:*'],
    ['x-y z', 'z:*'],
    ['a b-c d', 'd:*'],
    ['', undefined],
  ];
  for (const [needle, want] of cases) assert.equal(narrowingQuery(needle), want, JSON.stringify(needle));
});

pgTest('IMAP SEARCH BODY on PostgreSQL: the index narrows what is read, and the answer stays a substring match', () =>
  withNodes(1, async ([{ store }]) => {
    const texts = ['the quick brown fox', 'a quick brownie', 'quick\r\nbrown', 'nothing here', 'slow brown', 'thequick brown'];
    for (const [i, t] of texts.entries()) await store.deliver(user, Readable.from([Buffer.from(`Subject: s${i + 1}\r\n\r\n${t}\r\n`)]), { uniqueKey: `s${i}` });
    const opened: string[] = [];
    class Counting extends PgMailFolders {
      override open(u: string, f: string, key: string): Promise<Readable> {
        opened.push(key);
        return super.open(u, f, key);
      }
    }
    const folders = new Counting(store);
    const keyOf = new Map([...(await folders.sync(user, 'INBOX')).list].map((m) => [m.key, m.uid]));
    const server = new ImapServer({ hostname: 'mx.dc.uece.br', folders, authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const client = new ImapFlow({ host: '127.0.0.1', port: bound.port, secure: false, auth: { user, pass: 'secret' }, logger: false });
    try {
      await client.connect();
      await client.mailboxOpen('INBOX');
      assert.deepEqual(await client.search({ body: 'quick brown' }, { uid: true }), [1, 2, 6]);
      // "nothing here" has no word starting with "brown": never read
      assert.ok(!opened.map((k) => keyOf.get(k)).includes(4), `read: ${opened.map((k) => keyOf.get(k)).join(',')}`);
      // a one-word needle cannot be narrowed soundly: every message is read, the match is a substring
      assert.deepEqual(await client.search({ body: 'rown' }, { uid: true }), [1, 2, 3, 5, 6]);
      await client.logout();
    } finally {
      client.close();
      await server.close();
    }
  }));

pgTest('BINARY APPEND (RFC 3516 §4.4) on PostgreSQL: a literal8 with a bare LF is NO [UNKNOWN-CTE] (bodies keep CRLF); CR CR LF, NUL and a lone CR are kept and read back exactly', () =>
  withNodes(1, async ([{ folders }]) => {
    const server = new ImapServer({ hostname: 'mx.dc.uece.br', folders, authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const c = await LineClient.connect(bound.port, '127.0.0.1');
    const run = (line: string, tag: string): Promise<string[]> => {
      c.write(line);
      return c.readTagged(tag);
    };
    const lit8 = (text: string): string => `~{${text.length}+}\r\n${text}`;
    try {
      await c.readLine();
      await run(`x1 LOGIN ${user} secret\r\n`, 'x1');
      assert.deepEqual(await run(`x2 APPEND INBOX ${lit8('Subject: b\r\n\r\nA\nB')}\r\n`, 'x2'), ['x2 NO [UNKNOWN-CTE] This mailbox keeps line ends as CRLF: a bare LF would come back as CRLF']);
      assert.deepEqual(await run('x3 STATUS INBOX (MESSAGES)\r\n', 'x3'), ['* STATUS INBOX (MESSAGES 0)', 'x3 OK STATUS completed']);
      const good = 'Subject: b\r\n\r\nA\r\r\nB\rC\u0000';
      assert.match((await run(`x4 APPEND INBOX ${lit8(good)}\r\n`, 'x4')).at(-1)!, /^x4 OK \[APPENDUID \d+ 1\] APPEND completed$/);
      await run('x5 EXAMINE INBOX\r\n', 'x5');
      c.write('x6 FETCH 1 (BINARY.PEEK[])\r\n');
      assert.equal(await c.readLine(), `* 1 FETCH (BINARY[] ~{${good.length}}`);
      const lines = [await c.readLine(), await c.readLine(), await c.readLine(), await c.readLine()];
      assert.equal(lines.join('\r\n'), `${good})`);
      assert.deepEqual(await c.readTagged('x6'), ['x6 OK FETCH completed']);
    } finally {
      c.close();
      await server.close();
    }
  }));

void test('POP3 (Python poplib) on the PostgreSQL mailbox: what it retrieves and deletes is what IMAP sees, as an expunge', async (t) => {
  if (skip) return t.skip(skip);
  const py = await pythonWithModule('poplib');
  if (!py) return t.skip('python3 with poplib is not installed');
  await withNodes(1, async ([{ store, folders }]) => {
    for (const n of [1, 2]) await store.deliver(user, msg(n), { uniqueKey: `p${n}` });
    const before = await folders.sync(user, 'INBOX');
    const server = new Pop3Server({ hostname: 'pop.dc.uece.br', mailboxes: store, authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'), allowPlainWithoutTls: true, authFailureDelayMs: 1 });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    try {
      const r = await python3(
        `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_('secret')
print('STAT', *p.stat())
print('RETR', p.retr(1)[1][0].decode())
p.dele(1)
p.quit()
`,
        [String(bound.port), user],
        py,
      );
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`^STAT 2 ${before.list.at(0)!.size + before.list.at(1)!.size}$`, 'm'));
      assert.match(r.out, /^RETR Subject: m1$/m);
    } finally {
      await server.close();
    }
    const ch = await folders.changesSince(user, 'INBOX', before.highestModseq);
    assert.deepEqual(ch.vanished, [{ from: 1, to: 1 }]);
    assert.deepEqual([...(await folders.sync(user, 'INBOX')).list].map((m) => m.uid), [2]);
  });
});

pgTest('MOVE is one transaction: two nodes moving in opposite directions at once both finish, every message in exactly one folder', () =>
  withNodes(2, async ([a, b]) => {
    await a.folders.createFolder(user, 'Work');
    for (let i = 0; i < 10; i++) await a.folders.append(user, i % 2 ? 'Work' : 'INBOX', msg(i), { flags: '' });
    const inbox = [...(await a.folders.sync(user, 'INBOX')).list].map((m) => m.key);
    const work = [...(await a.folders.sync(user, 'Work')).list].map((m) => m.key);
    const [x, y] = await Promise.all([a.folders.move(user, 'INBOX', inbox, 'Work'), b.folders.move(user, 'Work', work, 'INBOX')]);
    assert.deepEqual([x.moved.length, y.moved.length], [5, 5]);
    const after = [...(await a.folders.sync(user, 'INBOX')).list, ...(await a.folders.sync(user, 'Work')).list];
    assert.equal(after.length, 10);
    assert.deepEqual((await a.folders.changesSince(user, 'INBOX', 1)).vanished, [{ from: 1, to: 5 }]);
  }));

pgTest('mailbox migration 6: a stored body and its text are compressed with lz4 (pg_column_compression), and read back whole', () =>
  withNodes(1, async ([a], db) => {
    // over PostgreSQL's 2 KB toast threshold and compressible, so the value is compressed
    const line = 'the quick brown fox jumps over the lazy dog again and again\r\n';
    const text = `Subject: long\r\n\r\n${line.repeat(400)}`;
    const { key } = await a.store.deliver(user, Readable.from([Buffer.from(text)]), { uniqueKey: 'lz4-1' });
    assert.equal((await buffer(await a.store.open(user, key))).toString(), text);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const r = await c.query<{ body: string | null; grams: string | null }>(
        'SELECT pg_column_compression(body) AS body, pg_column_compression(grams) AS grams FROM mail_bodies',
      );
      assert.equal(r.rows.length, 1);
      assert.deepEqual(r.rows[0], { body: 'lz4', grams: 'lz4' });
    } finally {
      await c.end();
    }
  }),
);
