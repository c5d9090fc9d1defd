/**
 * IMAP SEARCH BODY/TEXT (and SORT and THREAD with TEXT) through the full-text index on Maildir
 * (folder-text-index in `search.sqlite`): the answers are the same as without the index for
 * every message of ../shared/corpora/messages and some eighty needles (substrings cut from the messages' own
 * text at any offset, inside words, in other case, non-ASCII, too short to narrow, absent),
 * the index really narrows, a message delivered later is indexed as it arrives (no lazy build
 * at the first search), the index rebuilds itself when its file is lost and follows files another
 * program drops in or removes, and a message sent over SMTP through `correio serve` is found at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore, SqliteSearchIndex } from '../../src/mailbox/index.js';
import { messageText } from '../../src/protocol/imap/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { runDialog } from '../helpers/dialog.js';
import { freePort, LineClient } from '../helpers/net.js';
import { corporaDir } from '../helpers/paths.js';
import { startSite } from '../helpers/site.js';
import { corpusMessageFiles } from '../helpers/corpus-messages.js';

const corpus = join(corporaDir, 'messages');
const user = 'suzana@dc.uece.br';

const corpusFiles = (): Promise<string[]> => corpusMessageFiles(corpus);

/** A logged-in session with INBOX selected; `search` answers the UIDs of one UID SEARCH. */
async function session(port: number): Promise<{ search(key: string, needle: string, command?: string): Promise<string>; noop(): Promise<string[]>; close(): void }> {
  const c = await LineClient.connect(port);
  let n = 0;
  const run = async (cmd: string | Buffer): Promise<string[]> => {
    const tag = `t${++n}`;
    c.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(cmd) ? cmd : Buffer.from(cmd), Buffer.from('\r\n')]));
    const lines: string[] = [];
    for (;;) {
      const l = await c.readLine(30_000);
      if (l === undefined) throw new Error(`no answer to ${tag}`);
      if (l.startsWith(`${tag} `)) {
        if (!l.startsWith(`${tag} OK`)) throw new Error(`${cmd.toString()}: ${l}`);
        return lines;
      }
      lines.push(l);
    }
  };
  await c.readLine();
  await run(`LOGIN ${user} secret`);
  await run('SELECT INBOX');
  return {
    search: async (key, needle, command = 'UID SEARCH CHARSET UTF-8') => {
      const bytes = Buffer.from(needle, 'utf8');
      // a non-synchronizing literal (RFC 7888): any octets, no continuation
      const lines = await run(Buffer.concat([Buffer.from(`${command} ${key} {${bytes.length}+}\r\n`), bytes]));
      return lines.find((l) => /^\* (SEARCH|SORT|THREAD)\b/.test(l))!.replace(/^\* (SEARCH|SORT|THREAD)/, '').trim();
    },
    noop: () => run('NOOP'),
    close: () => c.socket.destroy(),
  };
}

/** Needles cut from the messages' own searchable text (a fixed pseudo-random sequence). */
function needlesFrom(texts: readonly string[]): string[] {
  let seed = 14;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const out = new Set(['the', 'ção', 'ÜBER', 'qzxqzx-absent', 'ab', 'e\u0301', 'ﬁle', 'content-type', 'Content-Transfer', '=?utf-8?', 'boundary', 'html', '<p>', 'http://']);
  while (out.size < 70) {
    const t = texts[rnd(texts.length)];
    const chars = [...t];
    if (chars.length < 20) continue;
    const len = 2 + rnd(12);
    const at = rnd(chars.length - len);
    let s = chars.slice(at, at + len).join('');
    if (/[\r\n\0]/.test(s)) continue;
    if (rnd(3) === 0) s = s.toUpperCase();
    out.add(s);
  }
  return [...out];
}

void test('SEARCH BODY and TEXT answer the same with and without the index over the corpus; the index narrows and follows deliveries', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-search-index-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const index = new SqliteSearchIndex(join(root, 'search.sqlite'));
  const indexed = new MaildirFolders(store, { searchIndex: index });
  const plain = new MaildirFolders(store);
  const auth = { authenticate: (u: string, p: string) => Promise.resolve(u === user && p === 'secret'), authFailureDelayMs: 1 };
  const withIndex = new ImapServer({ hostname: 'mx', folders: indexed, ...auth });
  const without = new ImapServer({ hostname: 'mx', folders: plain, ...auth });
  try {
    const files = await corpusFiles();
    assert.ok(files.length > 100, `${files.length} corpus messages`);
    const texts: string[] = [];
    for (const [i, f] of files.entries()) {
      const raw = await readFile(f);
      await store.deliver(user, Readable.from([raw]), { uniqueKey: `c${i}` });
      try {
        texts.push(messageText(raw));
      } catch {
        // a message the MIME reader refuses still goes into the folder
      }
    }
    // a sync notes the folder; the index is built in the background, not at the first search
    const snap = await indexed.sync(user, 'INBOX');
    await indexed.textIndex!.settled(user);
    const none = await indexed.textCandidates(user, 'INBOX', 'qzxqzx-absent');
    assert.deepEqual(none, new Set(), 'every message is in the index: an absent string has no candidate');
    assert.equal(await indexed.textCandidates(user, 'INBOX', 'ab'), undefined, 'two characters cannot narrow');

    const [a] = await withIndex.listen([{ host: '127.0.0.1', port: 0 }]);
    const [b] = await without.listen([{ host: '127.0.0.1', port: 0 }]);
    const sa = await session(a.port);
    const sb = await session(b.port);
    let found = 0;
    let narrowed = 0;
    for (const [i, needle] of needlesFrom(texts).entries()) {
      // TEXT for every needle, BODY for every third (each search without the index reads every message)
      for (const key of i % 3 === 0 ? ['BODY', 'TEXT'] : ['TEXT']) {
        const want = await sb.search(key, needle);
        assert.equal(await sa.search(key, needle), want, `${key} ${JSON.stringify(needle)}`);
        if (want !== '') found++;
      }
      // SORT and THREAD take the same search criteria (RFC 5256 §3, §4)
      if (i % 10 === 0) {
        for (const command of ['UID SORT (SIZE) UTF-8', 'UID THREAD REFERENCES UTF-8']) {
          assert.equal(await sa.search('TEXT', needle, command), await sb.search('TEXT', needle, command), `${command} TEXT ${JSON.stringify(needle)}`);
        }
      }
      const c = await indexed.textCandidates(user, 'INBOX', needle);
      if (c && c.size < snap.list.length / 2) narrowed++;
    }
    assert.ok(found > 50, `${found} searches found something`);
    assert.ok(narrowed > 30, `${narrowed} needles narrowed the folder to under half`);

    // a delivery (as the queue's local delivery) is indexed when a sync sees it, in the background
    await store.deliver(user, Readable.from([Buffer.from('Subject: chegou\r\n\r\nmensagem com xilogravura\r\n')]), { uniqueKey: 'late' });
    const after = await indexed.sync(user, 'INBOX');
    await indexed.textIndex!.settled(user);
    const late = [...after.list].find((m) => ![...snap.list].some((x) => x.key === m.key))!;
    assert.deepEqual(await indexed.textCandidates(user, 'INBOX', 'XILOGRAV'), new Set([late.uid]));
    assert.ok((await sa.noop()).some((l) => / EXISTS$/.test(l)));
    assert.equal(await sa.search('TEXT', 'xilogravura'), String(late.uid));
    // an expunged message leaves the index
    await indexed.remove(user, 'INBOX', late.key);
    await indexed.sync(user, 'INBOX');
    await indexed.textIndex!.settled(user);
    assert.deepEqual(await index.search(`imap:${user}`, ['xilogravura']), new Set());
    sa.close();
    sb.close();
  } finally {
    await withIndex.close();
    await without.close();
    indexed.textIndex!.close();
    await index.close();
    await rm(root, { recursive: true, force: true });
  }
});

void test('the index rebuilds itself: a deleted index file is filled again by the next process; files dropped in or removed by another program are followed', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-search-rebuild-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const file = join(root, 'search.sqlite');
  /** one "process": its own index handle and folder face, closed afterwards */
  const open = (): { index: SqliteSearchIndex; folders: MaildirFolders } => {
    const index = new SqliteSearchIndex(file);
    return { index, folders: new MaildirFolders(store, { searchIndex: index }) };
  };
  const close = async (p: { index: SqliteSearchIndex; folders: MaildirFolders }): Promise<void> => {
    p.folders.textIndex!.close();
    await p.index.close();
  };
  /** synced and indexed: the candidates for each needle */
  const candidates = async (folders: MaildirFolders, ...needles: string[]): Promise<(ReadonlySet<number> | undefined)[]> => {
    await folders.sync(user, 'INBOX');
    await folders.textIndex!.settled(user);
    return Promise.all(needles.map((n) => folders.textCandidates(user, 'INBOX', n)));
  };
  try {
    for (const [i, word] of ['abacaxi', 'goiabada', 'rapadura'].entries()) {
      await store.deliver(user, Readable.from([Buffer.from(`Subject: m${i}\r\n\r\ncorpo com ${word}\r\n`)]), { uniqueKey: `r${i}` });
    }
    const first = open();
    const uids = [...(await first.folders.sync(user, 'INBOX')).list].map((m) => m.uid);
    assert.deepEqual(await candidates(first.folders, 'goiabada', 'qzxqzx-absent'), [new Set([uids[1]]), new Set()]);
    await close(first);

    // the index file is lost: the next process finds every message again without a search asking
    for (const f of [file, `${file}-wal`, `${file}-shm`]) await rm(f, { force: true });
    const second = open();
    assert.deepEqual(await candidates(second.folders, 'goiabada', 'qzxqzx-absent'), [new Set([uids[1]]), new Set()], 'rebuilt whole');

    // another program drops a message into new/ and removes one from the folder
    const inbox = store.mailboxPath(user, '');
    await writeFile(join(inbox, 'new', '1796000000.M1P1.otherprogram'), 'Subject: de fora\n\nmarmelada caseira\n');
    const names = await readdir(join(inbox, 'new'));
    const abacaxi = names.find((n) => n.includes('otherprogram') === false && readFileSync(join(inbox, 'new', n), 'utf8').includes('abacaxi'));
    assert.ok(abacaxi, names.join(' '));
    await rm(join(inbox, 'new', abacaxi));
    const [marmelada, gone, absent] = await candidates(second.folders, 'marmelada', 'abacaxi', 'qzxqzx-absent');
    const now = [...(await second.folders.sync(user, 'INBOX')).list];
    assert.equal(now.length, 3);
    assert.deepEqual(marmelada, new Set([now.find((m) => !uids.includes(m.uid))!.uid]));
    assert.deepEqual(gone, new Set(), 'the removed message left the index');
    assert.deepEqual(absent, new Set(), 'every message is indexed');
    await close(second);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

void test('a message sent over SMTP to correio serve is found by SEARCH TEXT right after delivery', async () => {
  const imapPort = await freePort();
  const site = await startSite({ hostname: 'dc.uece.br', domains: ['dc.uece.br'], users: [user], tables: `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n` });
  try {
    const s = await session(imapPort);
    assert.equal(await s.search('TEXT', 'xilogravura'), '');
    await runDialog(
      site.port,
      ['S~ 220 .*', 'C: HELO dsc.ufpb.br', 'S~ 250 .*', 'C: MAIL FROM:<helvecio@dsc.ufpb.br>', 'S: 250 OK', `C: RCPT TO:<${user}>`, 'S: 250 OK', 'C: DATA', 'S~ 354 .*', 'C: Subject: arte', 'C:', 'C: uma xilogravura de J. Borges', 'C: .', 'S~ 250 OK.*', 'C: QUIT', 'S~ 221 .*'].join('\n'),
      { address: site.host },
    );
    await site.waitForMessages(user, 1);
    // the client learns of the message (RFC 9051 §7.4.1 EXISTS), as after IDLE, and searches at once
    assert.ok((await s.noop()).includes('* 1 EXISTS'));
    assert.equal(await s.search('TEXT', 'xilogravura'), '1');
    assert.equal(await s.search('BODY', 'LOGRAVURA DE J'), '1');
    s.close();
  } finally {
    await site.stop();
  }
});
