/**
 * The fetch cache (server/imap/fetch-cache.ts): a second `FETCH 1:* (ENVELOPE BODYSTRUCTURE
 * BODY FLAGS)` over every message of ../shared/corpora/messages answers byte for byte as the
 * first, without opening a single message file; FLAGS still follow a STORE; BODY[] still
 * reads the file. With its file (`fetchCacheFile`), the cache survives a restart: the first FETCH
 * of a new server answers the same bytes without opening a file, and EXPUNGE drops the rows.
 * Filled from the text index's read (fillFetchCache, as serve wires it), delivered and APPENDed
 * mail is in the file before any FETCH: a restarted server's first FETCH opens no file, nor its
 * first SORT or THREAD. SORT and THREAD by every key answer the same from the header fields the
 * cache keeps (sort-fields) as from the files, opening none: a second time, after a restart with
 * the file, and after a FETCH ENVELOPE (which keeps them). SEARCH header keys on those fields
 * answer from them too, the same as from the files, opening none; a SEARCH that reads the header
 * blocks keeps those fields, so the same SEARCH again, SORT and THREAD open no file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { MaildirFolders, MaildirStore, SqliteSearchIndex } from '../../src/mailbox/index.js';
import { FetchCache, FetchCacheDisk, ImapServer, fillFetchCache } from '../../src/server/imap/index.js';
import { LineClient } from '../helpers/net.js';
import { corporaDir } from '../helpers/paths.js';
import { corpusMessageFiles } from '../helpers/corpus-messages.js';

const corpus = join(corporaDir, 'messages');
const user = 'suzana@dc.uece.br';

/** Everything the server sends for one command, up to and with its tagged line. */
async function exchange(c: LineClient, tag: string, cmd: string): Promise<Buffer> {
  c.write(`${tag} ${cmd}\r\n`);
  const lines: string[] = [];
  for (;;) {
    const l = await c.readLine(60_000);
    if (l === undefined) throw new Error(`no answer to ${cmd}`);
    lines.push(l);
    if (l.startsWith(`${tag} `)) {
      assert.match(l, new RegExp(`^${tag} OK`), cmd);
      return Buffer.from(lines.slice(0, -1).join('\n'), 'latin1');
    }
  }
}

/** The folder store with its open() calls counted. */
function counting(folders: MaildirFolders): { store: MaildirFolders; opens: () => number } {
  let opens = 0;
  const store = new Proxy(folders, {
    get(target, p) {
      if (p === 'open') return (...a: Parameters<MaildirFolders['open']>) => (opens++, target.open(...a));
      const v = Reflect.get(target, p) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, opens: () => opens };
}

/** Every corpus message delivered to `store`'s INBOX; their number. */
async function deliverCorpus(store: MaildirStore): Promise<number> {
  const files = await corpusMessageFiles(corpus);
  for (const [i, f] of files.entries()) await store.deliver(user, Readable.from([await readFile(f)]), { uniqueKey: `c${i}` });
  return files.length;
}

/** A logged-in client with INBOX selected. */
async function selectInbox(server: ImapServer): Promise<LineClient> {
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  const c = await LineClient.connect(bound.port);
  await c.readLine();
  await exchange(c, 'a', `LOGIN ${user} secret`);
  await exchange(c, 'b', 'SELECT INBOX');
  return c;
}

const authenticate = (u: string, p: string): Promise<boolean> => Promise.resolve(u === user && p === 'secret');

/**
 * A new server on `store` (a new folder store: nothing in memory) with `fetchCacheFile` (none:
 * no disk tier), INBOX selected: its answer to `items` and the message files that opened.
 */
async function fetchOnNewServer(store: MaildirStore, fetchCacheFile: string | undefined, items: string): Promise<{ server: ImapServer; c: LineClient; answer: Buffer; opens: number; opened: () => number }> {
  const counted = counting(new MaildirFolders(store));
  const server = new ImapServer({ hostname: 'mx', folders: counted.store, authenticate, authFailureDelayMs: 1, ...(fetchCacheFile && { fetchCacheFile }) });
  const c = await selectInbox(server);
  const answer = await exchange(c, 'c', items);
  return { server, c, answer, opens: counted.opens(), opened: counted.opens };
}

/** SORT and THREAD by every key and both algorithms (no search key that reads a message). */
const sortCommands = ['SORT (DATE) UTF-8 ALL', 'SORT (REVERSE SUBJECT FROM) UTF-8 ALL', 'UID SORT (CC TO ARRIVAL) UTF-8 ALL', 'SORT (DISPLAYFROM DISPLAYTO SIZE) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL', 'UID THREAD ORDEREDSUBJECT UTF-8 ALL'];

/** The answers to sortCommands, one Buffer each. */
async function sortAnswers(c: LineClient): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const [i, cmd] of sortCommands.entries()) out.push(await exchange(c, `s${i}`, cmd));
  return out;
}

void test('SORT and THREAD answer from the fields kept in the fetch cache without opening a file: a second time, after a FETCH ENVELOPE, after a restart', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-sort-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const fetchCacheFile = join(root, 'imap-cache.sqlite');
  let server: ImapServer | undefined;
  try {
    const count = await deliverCorpus(store);
    const first = counting(new MaildirFolders(store));
    server = new ImapServer({ hostname: 'mx', folders: first.store, authenticate, authFailureDelayMs: 1, fetchCacheFile });
    let c = await selectInbox(server);
    const answers = await sortAnswers(c);
    const read = first.opens();
    assert.ok(read >= count, `the first SORT read the header blocks (${read} opens)`);
    assert.match(answers[0].toString('latin1'), new RegExp(`^\\* SORT( \\d+){${count}}$`));
    const again = await sortAnswers(c);
    assert.equal(first.opens(), read, 'the second round opened no file');
    for (const [i, a] of again.entries()) assert.ok(a.equals(answers[i]), `${sortCommands[i]}: the same answer`);
    c.socket.destroy();
    await server.close();
    // a new server with the cache file: no file opened
    let opened: () => number;
    ({ server, c, opened } = await fetchOnNewServer(store, fetchCacheFile, 'NOOP'));
    const restarted = await sortAnswers(c);
    assert.equal(opened(), 0, 'no message file opened after the restart');
    for (const [i, a] of restarted.entries()) assert.ok(a.equals(answers[i]), `${sortCommands[i]} after the restart: the same answer`);
    c.socket.destroy();
    await server.close();
    // a new server without the file: a FETCH ENVELOPE keeps the fields SORT reads
    let opens: number;
    ({ server, c, opens, opened } = await fetchOnNewServer(store, undefined, 'FETCH 1:* (ENVELOPE)'));
    assert.ok(opens >= count, `FETCH ENVELOPE read the files (${opens} opens)`);
    const afterFetch = await sortAnswers(c);
    assert.equal(opened(), opens, 'SORT and THREAD after FETCH ENVELOPE opened no file');
    for (const [i, a] of afterFetch.entries()) assert.ok(a.equals(answers[i]), `${sortCommands[i]} after FETCH ENVELOPE: the same answer`);
    c.socket.destroy();
  } finally {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
});

/** SEARCH header keys on fields the cache keeps (sort-fields), and one (BCC) it does not. */
const searchCommands = [
  'SEARCH FROM a',
  'UID SEARCH OR SUBJECT re TO example',
  'SEARCH NOT CC @',
  'SEARCH HEADER Message-ID @ SENTSINCE 1-Jan-2005',
  'SEARCH HEADER References ""',
  'SEARCH SENTBEFORE 1-Jan-2010 FROM e',
];

void test('SEARCH header keys answer from the fields kept in the fetch cache, the same as from the files, without opening one; SORT with such a key reads each header once', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-search-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  let server: ImapServer | undefined;
  try {
    const count = await deliverCorpus(store);
    // the answers made from the files: each command on a new server (nothing cached; BCC is not kept)
    const fromFiles: Buffer[] = [];
    for (const cmd of [...searchCommands, 'SEARCH BCC a']) {
      const r = await fetchOnNewServer(store, undefined, cmd);
      assert.equal(r.opens, count, `${cmd}: every header block read`);
      fromFiles.push(r.answer);
      r.c.socket.destroy();
      await r.server.close();
    }
    assert.ok(fromFiles.some((a) => /^\* SEARCH( \d+){2,}$/.test(a.toString('latin1'))), 'some SEARCH finds messages');
    // SORT with a header key, nothing cached: each message's header block read once for both
    let c: LineClient, opened: () => number;
    ({ server, c, opened } = await fetchOnNewServer(store, undefined, 'NOOP'));
    await exchange(c, 's', 'SORT (SUBJECT FROM) UTF-8 FROM a');
    assert.equal(opened(), count, 'SORT FROM: one open per message');
    c.socket.destroy();
    await server.close();
    // a FETCH ENVELOPE keeps the fields SORT reads; then the SEARCHes open no file but BCC's
    let afterFetch: number;
    ({ server, c, opened, opens: afterFetch } = await fetchOnNewServer(store, undefined, 'FETCH 1:* (ENVELOPE)'));
    for (const [i, cmd] of searchCommands.entries()) {
      const a = await exchange(c, `g${i}`, cmd);
      assert.ok(a.equals(fromFiles[i]), `${cmd}: the same answer from the cache`);
    }
    assert.equal(opened(), afterFetch, 'no message file opened');
    const bcc = await exchange(c, 'h', 'SEARCH BCC a');
    assert.ok(bcc.equals(fromFiles.at(-1)!));
    // (but the last few FETCH read whole, which the session's reader keeps)
    assert.ok(opened() >= afterFetch + count - 4, `BCC: the header blocks read (${opened() - afterFetch} opens)`);
    c.socket.destroy();
  } finally {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
});

void test('a SEARCH that reads the header blocks keeps their SORT fields in the fetch cache: the same SEARCH again, other header SEARCHes, SORT and THREAD open no file and answer the same', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-search-keeps-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  let server: ImapServer | undefined;
  try {
    const count = await deliverCorpus(store);
    // the answers made from the files, on a server that has cached nothing
    const fromFiles: Buffer[] = [];
    for (const cmd of [...searchCommands, ...sortCommands]) {
      const r = await fetchOnNewServer(store, undefined, cmd);
      fromFiles.push(r.answer);
      r.c.socket.destroy();
      await r.server.close();
    }
    // the first SEARCH FROM (no FETCH, SORT or THREAD before it) reads every header block once
    const r = await fetchOnNewServer(store, undefined, searchCommands[0]);
    server = r.server;
    assert.equal(r.opens, count, 'the first SEARCH FROM: one open per message');
    assert.ok(r.answer.equals(fromFiles[0]));
    const again = await exchange(r.c, 'd', searchCommands[0]);
    assert.equal(r.opened(), count, 'the second SEARCH FROM opened no file (before: every header block again)');
    assert.ok(again.equals(fromFiles[0]), 'the second SEARCH FROM: the same answer');
    for (const [i, cmd] of [...searchCommands, ...sortCommands].entries()) {
      const a = await exchange(r.c, `e${i}`, cmd);
      assert.ok(a.equals(fromFiles[i]), `${cmd}: the same answer from the fields the SEARCH kept`);
    }
    assert.equal(r.opened(), count, 'no file opened by the other SEARCHes, SORTs and THREADs');
    r.c.socket.destroy();
  } finally {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
});

void test('after a restart, FETCH ENVELOPE and BODYSTRUCTURE come from the cache file without reading a message', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-disk-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const fetchCacheFile = join(root, 'imap-cache.sqlite');
  // no FLAGS: the first session saw \Recent, the second does not (RFC 9051 §2.3.2)
  const items = 'FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)';
  let server: ImapServer | undefined;
  try {
    const count = await deliverCorpus(store);
    const before = counting(new MaildirFolders(store));
    server = new ImapServer({ hostname: 'mx', folders: before.store, authenticate, authFailureDelayMs: 1, fetchCacheFile });
    let c = await selectInbox(server);
    const first = await exchange(c, 'c', items);
    assert.ok(before.opens() >= count, `the first FETCH read the files (${before.opens()})`);
    c.socket.destroy();
    await server.close();
    // a new server, a new folder store (nothing in memory): only the file remains
    let again: Buffer, opens: number;
    ({ server, c, answer: again, opens } = await fetchOnNewServer(store, fetchCacheFile, items));
    assert.equal(opens, 0, 'no message file opened after the restart');
    assert.ok(again.equals(first), 'byte for byte the same answer');
    const keys = (): number => {
      const db = new Database(fetchCacheFile, { readonly: true });
      try {
        return (db.prepare('SELECT count(DISTINCT key) FROM items').pluck().get() as number);
      } finally {
        db.close();
      }
    };
    assert.equal(keys(), count);
    await exchange(c, 'd', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await exchange(c, 'e', 'EXPUNGE');
    assert.equal(keys(), count - 1, 'the expunged message left the cache file');
    c.socket.destroy();
  } finally {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
});

void test('a second FETCH of ENVELOPE and BODYSTRUCTURE answers the same without reading the files', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const folders = new MaildirFolders(store);
  let opens = 0;
  // the real folder store, its open() counted
  const counted = new Proxy(folders, {
    get(target, p) {
      if (p === 'open') return (...a: Parameters<MaildirFolders['open']>) => (opens++, target.open(...a));
      const v = Reflect.get(target, p) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  const server = new ImapServer({ hostname: 'mx', folders: counted, authenticate, authFailureDelayMs: 1 });
  try {
    const files = await corpusMessageFiles(corpus);
    for (const [i, f] of files.entries()) await store.deliver(user, Readable.from([await readFile(f)]), { uniqueKey: `c${i}` });
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const c = await LineClient.connect(bound.port);
    await c.readLine();
    await exchange(c, 'a', `LOGIN ${user} secret`);
    await exchange(c, 'b', 'SELECT INBOX');
    const items = 'FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE BODY)';
    const first = await exchange(c, 'c', items);
    const read = opens;
    assert.ok(read >= files.length, `the first FETCH read the files (${read})`);
    const second = await exchange(c, 'd', items);
    assert.equal(opens, read, 'the second FETCH opened no file');
    assert.ok(second.equals(first), 'byte for byte the same answer');
    // flags are not cached
    await exchange(c, 'e', 'STORE 1 +FLAGS.SILENT (\\Flagged)');
    const third = await exchange(c, 'f', 'FETCH 1 (FLAGS ENVELOPE)');
    assert.match(third.toString('latin1'), /^\* 1 FETCH \(FLAGS \([^)]*\\Flagged[^)]*\) ENVELOPE /);
    assert.equal(opens, read);
    // content itself still comes from the file
    await exchange(c, 'g', 'FETCH 1 BODY.PEEK[]');
    assert.equal(opens, read + 1);
    c.socket.destroy();
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
});

void test('delivered and APPENDed mail is in the cache file from the text index\'s read: the first FETCH after a restart opens no file', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-fetch-cache-fill-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const fetchCacheFile = join(root, 'imap-cache.sqlite');
  const items = 'FETCH 1:* (ENVELOPE BODYSTRUCTURE)';
  const searchIndex = new SqliteSearchIndex(join(root, 'search.sqlite'));
  let server: ImapServer | undefined;
  try {
    const count = await deliverCorpus(store);
    // as serve wires it (start-app): the text index's reads fill the fetch cache
    const fetchCache = new FetchCache(undefined, new FetchCacheDisk(fetchCacheFile));
    const folders = new MaildirFolders(store, { searchIndex, messageRead: (u, f, k, octets) => fillFetchCache(fetchCache, u, f, k, octets) });
    server = new ImapServer({ hostname: 'mx', folders, authenticate, authFailureDelayMs: 1, fetchCache });
    let c = await selectInbox(server);
    const appended = 'From: Ana <ana@example.net>\r\nTo: suzana@dc.uece.br\r\nSubject: appended\r\nMessage-ID: <ap1@example.net>\r\n\r\nhello\r\n';
    await exchange(c, 'c', `APPEND INBOX {${appended.length}+}\r\n${appended}`);
    await exchange(c, 'd', 'NOOP');
    await folders.textIndex!.settled(user);
    c.socket.destroy();
    await server.close();
    // a new server on the same files and cache file; no FETCH was made before
    let cached: Buffer, opens: number, opened: () => number;
    ({ server, c, answer: cached, opens, opened } = await fetchOnNewServer(store, fetchCacheFile, items));
    assert.equal(opens, 0, 'no message file opened');
    // the fields SORT and THREAD read were kept from the same read
    await exchange(c, 'e', 'THREAD REFERENCES UTF-8 ALL');
    await exchange(c, 'f', 'SORT (DATE SUBJECT) UTF-8 ALL');
    assert.equal(opened(), 0, 'SORT and THREAD opened no message file');
    assert.equal(cached.toString('latin1').match(/^\* \d+ FETCH/gm)?.length, count + 1);
    assert.match(cached.toString('latin1'), /ENVELOPE \(NIL "appended" \(\("Ana" NIL "ana" "example\.net"\)\)/);
    c.socket.destroy();
    await server.close();
    // the same bytes as made from the files by a server without the cache
    let read: Buffer;
    ({ server, c, answer: read, opens } = await fetchOnNewServer(store, undefined, items));
    assert.ok(opens > count, 'this one read the files');
    assert.ok(read.equals(cached), 'byte for byte what FETCH makes from the files');
    c.socket.destroy();
  } finally {
    await server?.close();
    await searchIndex.close();
    await rm(root, { recursive: true, force: true });
  }
});
