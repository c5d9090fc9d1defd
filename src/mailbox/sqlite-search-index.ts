/**
 * @module sqlite-search-index
 * The full-text index (core MailSearchIndex) on SQLite FTS5 at `<data_dir>/search.sqlite`:
 * one row per message, its account and id unindexed beside the text, cut into trigrams so that
 * any part of a word is found ("atório" finds "relatório"), as IMAP SEARCH and JMAP's text
 * conditions are substring matches.
 * Standards: SQLite FTS5 (trigram tokenizer, case folded, diacritics removed; a string of three
 *   or more characters is matched anywhere in the text).
 * Security: a client's strings are quoted as FTS5 strings (no query syntax reaches SQLite);
 *   every query names the account. SQLite failures are thrown as MailError 451 4.3.0.
 * Limitations: a string under three characters cannot use trigrams, so it narrows nothing
 *   (a search of only such strings answers every indexed id; the caller's exact match
 *   decides). The index is about three times the size of a word index.
 */
import type Database from 'better-sqlite3';
import type { MailSearchIndex } from '../core/index.js';
import { openSmallStore, runStore } from '../util/sqlite-small-store.js';

// `texts` was the word index of earlier versions: dropped, the catch-up fills `grams` again
const schema = `DROP TABLE IF EXISTS texts;
CREATE VIRTUAL TABLE IF NOT EXISTS grams USING fts5(account UNINDEXED, id UNINDEXED, text, tokenize = 'trigram remove_diacritics 1');`;

/** The strings of a query as FTS5 phrases (each found anywhere); undefined when none is long enough to narrow. */
export function ftsQuery(words: readonly string[]): string | undefined {
  const strings = words.map((w) => w.normalize('NFKC').trim()).filter((w) => [...w].length >= 3);
  return strings.length === 0 ? undefined : strings.map((t) => `"${t.replace(/"/g, '""')}"`).join(' AND ');
}

export class SqliteSearchIndex implements MailSearchIndex {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = openSmallStore(file, schema);
  }

  indexed(account: string): Promise<ReadonlySet<string>> {
    return runStore(() => new Set(this.#db.prepare('SELECT id FROM grams WHERE account = ?').pluck().all(account) as string[]));
  }

  add(account: string, docs: readonly { readonly id: string; readonly text: string }[]): Promise<void> {
    return runStore(() => {
      const ins = this.#db.prepare('INSERT INTO grams (account, id, text) VALUES (?, ?, ?)');
      this.#db.transaction(() => {
        for (const d of docs) ins.run(account, d.id, d.text);
      })();
    });
  }

  remove(account: string, ids: readonly string[]): Promise<void> {
    return runStore(() => {
      const del = this.#db.prepare('DELETE FROM grams WHERE account = ? AND id = ?');
      this.#db.transaction(() => {
        for (const id of ids) del.run(account, id);
      })();
    });
  }

  search(account: string, words: readonly string[]): Promise<Set<string>> {
    const q = ftsQuery(words);
    if (q === undefined) return this.indexed(account).then((s) => new Set(s));
    return runStore(() => new Set(this.#db.prepare('SELECT id FROM grams WHERE grams MATCH ? AND account = ?').pluck().all(q, account) as string[]));
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
