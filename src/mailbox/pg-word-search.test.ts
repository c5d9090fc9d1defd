/**
 * The PostgreSQL mailbox store's text index (search-words.ts, PgMailFolders.wordCandidates),
 * which JMAP text conditions use when the mailboxes are in PostgreSQL: anywhere in a word, as
 * the node-local trigram index; a message delivered through one node's store is a candidate of
 * a search through another's at once; without pg_trgm's index the same answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import pg from 'pg';
import { createTestDatabase, pgUnavailable } from '../../test/helpers/pg.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { PgMailStore } from './pg-mail-store.js';
import { gramsPatterns, searchWords } from './search-words.js';

const skip = await pgUnavailable();
const user = 'suzana@dc.uece.br';
const other = 'pascal@dc.uece.br';
const raw = (lines: string[]): Readable => Readable.from([Buffer.from(lines.join('\r\n'))]);

void test('searchWords and gramsPatterns: runs of letters and digits, NFKC, lower case; no LIKE wildcard from a client', () => {
  assert.deepEqual(searchWords('Relatório-Final: suzana@dc.uece.br ＦＵＬＬ ﬁle'), ['relatório', 'final', 'suzana', 'dc', 'uece', 'br', 'full', 'file']);
  assert.deepEqual(gramsPatterns(['Olá mundo', "o'brien) | !x%_\\"]), ['%mundo%', '%brien%', '%olá%']);
  assert.deepEqual(gramsPatterns(['atório', 'relatório']), ['%relatório%'], 'a run inside another adds nothing');
  assert.equal(gramsPatterns(['--', 'ab', '']), undefined, 'nothing of three characters: no narrowing');
});

void test('wordCandidates: anywhere in a word through the trigram index (the same answers without it), across stores, per user, old bodies always candidates', { skip }, async () => {
  const db = await createTestDatabase();
  const a = await PgMailStore.open(db.url, { maxConnections: 2 });
  const b = await PgMailStore.open(db.url, { maxConnections: 2 });
  try {
    const onB = new PgMailFolders(b);
    const names = new Map<string, string>();
    const put = async (store: PgMailStore, u: string, message: Readable, uniqueKey: string, folder?: string): Promise<void> => {
      names.set((await store.deliver(u, message, { uniqueKey, ...(folder ? { folder } : {}) })).key, uniqueKey);
    };
    await put(a, user, raw(['From: Helvécio <helvecio@dsc.ufpb.br>', 'Subject: =?utf-8?q?Relat=C3=B3rio_trimestral?=', '', 'vendas do norte', '']), 'w1');
    await put(a, user, raw(['From: x@y.example', 'Subject: html', 'Content-Type: text/html', '', '<p>caf&eacute; <b>sul</b>&nbsp;leste ＦＵＬＬ</p>', '']), 'w2');
    await new PgMailFolders(a).createFolder(user, 'Archive');
    await put(a, user, raw(['Subject: arquivado', '', 'norte antigo', '']), 'w3', 'Archive');
    await put(a, other, raw(['Subject: trimestral', '', 'norte', '']), 'w4');

    const found = async (...needles: string[]): Promise<Record<string, string[]> | undefined> => {
      const m = await onB.wordCandidates(user, needles);
      return m && Object.fromEntries([...m].map(([f, keys]) => [f, [...keys].map((k) => names.get(k) ?? k).sort()]));
    };
    assert.deepEqual(await found('trimestral'), { INBOX: ['w1'] }, 'decoded subject, and not the other user');
    assert.deepEqual(await found('Relat'), { INBOX: ['w1'] }, 'a word start, case folded');
    assert.deepEqual(await found('ufpb.br'), { INBOX: ['w1'] }, 'the parts of an address');
    assert.deepEqual(await found('norte'), { INBOX: ['w1'], Archive: ['w3'] }, 'every folder');
    assert.deepEqual(await found('sul leste', 'full'), { INBOX: ['w2'] }, 'words between tags, NFKC');
    assert.deepEqual(await found('norte vendas'), { INBOX: ['w1'] }, 'every word, in any order (the caller checks the phrase)');
    assert.deepEqual(await found('norte', 'sul'), {}, 'every needle');
    assert.deepEqual(await found('atório'), { INBOX: ['w1'] }, 'the inside of a word, as the trigram index of the files backend');
    assert.deepEqual(await found('mestral xy'), { INBOX: ['w1'] }, 'a run under three characters narrows nothing');
    assert.deepEqual(await found('lestx'), {});
    assert.equal(await found('--'), undefined, 'no run: no narrowing');
    await put(a, user, raw(['Subject: units', '', 'a speed of 3e5xyz here', '']), 'w6');
    assert.deepEqual(await found('e5xy'), { INBOX: ['w6'] }, 'inside a run of letters and digits');

    // the same answers without the trigram index (pg_trgm not available: a scan)
    const c0 = new pg.Client({ connectionString: db.url });
    await c0.connect();
    try {
      assert.equal(Number((await c0.query<{ n: string }>("SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'mail_bodies_grams'")).rows[0].n), 1, 'pg_trgm is there');
      const indexed = await found('atório', 'vendas');
      await c0.query('DROP INDEX mail_bodies_grams');
      assert.deepEqual(await found('atório', 'vendas'), indexed);
    } finally {
      await c0.end();
    }

    // a body stored before its text was kept is a candidate of every search, until the same
    // content is stored again
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(`UPDATE mail_bodies SET grams = NULL WHERE encode(body, 'escape') LIKE '%arquivado%'`);
      assert.deepEqual(await found('sul'), { INBOX: ['w2'], Archive: ['w3'] });
      await put(b, user, raw(['Subject: arquivado', '', 'norte antigo', '']), 'w5');
      assert.deepEqual(await found('sul'), { INBOX: ['w2'] });
      assert.equal(Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM mail_bodies WHERE grams IS NULL')).rows[0].n), 0);
    } finally {
      await c.end();
    }
  } finally {
    await a.close();
    await b.close();
    await db.drop();
  }
});
