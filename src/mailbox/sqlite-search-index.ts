/**
 * @module sqlite-search-index
 * The full-text index (core MailSearchIndex) on SQLite FTS5 at `<data_dir>/search.sqlite`:
 * one row per message, its account and id unindexed beside the text.
 * Standards: SQLite FTS5 (unicode61 tokenizer, diacritics removed; prefix queries "word"*).
 * Security: a client's words are quoted as FTS5 strings (no query syntax reaches SQLite);
 *   every query names the account. SQLite failures are thrown as MailError 451 4.3.0.
 * Limitations: words are matched at their start ("relat" finds "relatório"), not inside
 *   ("atório" does not).
 */
import type Database from 'better-sqlite3';
import type { MailSearchIndex } from '../core/index.js';
import { openSmallStore, runStore } from '../util/sqlite-small-store.js';

const schema = `CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(account UNINDEXED, id UNINDEXED, text, tokenize = 'unicode61 remove_diacritics 2');`;

/** The words of a query as FTS5 prefix strings; undefined when there is none. */
export function ftsQuery(words: readonly string[]): string | undefined {
  const tokens = words.flatMap((w) => w.normalize('NFKC').split(/[^\p{L}\p{N}]+/u)).filter((t) => t !== '');
  return tokens.length === 0 ? undefined : tokens.map((t) => `"${t.replace(/"/g, '""')}"*`).join(' AND ');
}

export class SqliteSearchIndex implements MailSearchIndex {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = openSmallStore(file, schema);
  }

  #run<T>(fn: () => T): Promise<T> {
    return runStore(fn);
  }

  indexed(account: string): Promise<ReadonlySet<string>> {
    return this.#run(() => new Set((this.#db.prepare('SELECT id FROM texts WHERE account = ?').pluck().all(account) as string[])));
  }

  add(account: string, docs: readonly { readonly id: string; readonly text: string }[]): Promise<void> {
    return this.#run(() => {
      const ins = this.#db.prepare('INSERT INTO texts (account, id, text) VALUES (?, ?, ?)');
      this.#db.transaction(() => {
        for (const d of docs) ins.run(account, d.id, d.text);
      })();
    });
  }

  remove(account: string, ids: readonly string[]): Promise<void> {
    return this.#run(() => {
      const del = this.#db.prepare('DELETE FROM texts WHERE account = ? AND id = ?');
      this.#db.transaction(() => {
        for (const id of ids) del.run(account, id);
      })();
    });
  }

  search(account: string, words: readonly string[]): Promise<Set<string>> {
    const q = ftsQuery(words);
    if (q === undefined) return Promise.resolve(new Set());
    return this.#run(() => new Set(this.#db.prepare('SELECT id FROM texts WHERE texts MATCH ? AND account = ?').pluck().all(q, account) as string[]));
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
