/**
 * @module sqlite-thread-index
 * The conversation index (core MailThreadIndex) on SQLite at `<data_dir>/threads.sqlite`: for
 * each account, which thread each message is in, and which thread each Message-ID seen (in a
 * message's own Message-ID or in the In-Reply-To and References of another) belongs to.
 * A new message joins the thread of the first of its ids (References' oldest ancestor first)
 * already known; when its ids are in several threads they become one (the first's), so a
 * reply that arrives before its parent still ends in the parent's thread. A thread's id is
 * "t" + the rest of the id of the message that started it.
 * Standards: RFC 8621 §3; RFC 5256 §2.2 (the References links, no subject merging).
 * Security: every statement names the account. SQLite failures are thrown as MailError 451 4.3.0.
 * Limitations: a removed message's row stays 30 days (for Thread/changes), then goes; the ids
 *   of messages never seen stay linked to their thread for good (small: one row per id).
 */
import type Database from 'better-sqlite3';
import type { MailThreadIndex, ThreadDoc } from '../core/index.js';
import { openSmallStore, runStore } from '../util/sqlite-small-store.js';

const schema = `
CREATE TABLE IF NOT EXISTS emails (account TEXT NOT NULL, id TEXT NOT NULL, thread TEXT NOT NULL, gone INTEGER, PRIMARY KEY (account, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS emails_thread ON emails (account, thread);
CREATE TABLE IF NOT EXISTS refs (account TEXT NOT NULL, msgid TEXT NOT NULL, thread TEXT NOT NULL, PRIMARY KEY (account, msgid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_thread ON refs (account, thread);
`;

/** how long a removed message's thread is remembered */
const goneKeptMs = 30 * 86_400_000;

export class SqliteThreadIndex implements MailThreadIndex {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = openSmallStore(file, schema);
  }

  threads(account: string): Promise<Map<string, string>> {
    return runStore(() => {
      const rows = this.#db.prepare('SELECT id, thread FROM emails WHERE account = ? AND gone IS NULL').raw().all(account) as [string, string][];
      return new Map(rows);
    });
  }

  add(account: string, docs: readonly ThreadDoc[]): Promise<void> {
    return runStore(() => {
      const known = this.#db.prepare('SELECT gone FROM emails WHERE account = ? AND id = ?').pluck();
      const threadOf = this.#db.prepare('SELECT thread FROM refs WHERE account = ? AND msgid = ?').pluck();
      const moveEmails = this.#db.prepare('UPDATE emails SET thread = ? WHERE account = ? AND thread = ?');
      const moveRefs = this.#db.prepare('UPDATE refs SET thread = ? WHERE account = ? AND thread = ?');
      const setRef = this.#db.prepare('INSERT INTO refs (account, msgid, thread) VALUES (?, ?, ?) ON CONFLICT (account, msgid) DO UPDATE SET thread = excluded.thread');
      const setEmail = this.#db.prepare('INSERT INTO emails (account, id, thread, gone) VALUES (?, ?, ?, NULL) ON CONFLICT (account, id) DO UPDATE SET thread = excluded.thread, gone = NULL');
      this.#db.transaction(() => {
        for (const d of docs) {
          if (known.get(account, d.id) === null) continue; // indexed and present
          const ids = [...new Set([...d.refs, ...(d.messageId ? [d.messageId] : [])])];
          const found: string[] = [];
          for (const m of ids) {
            const t = threadOf.get(account, m) as string | undefined;
            if (t !== undefined && !found.includes(t)) found.push(t);
          }
          const thread = found[0] ?? `t${d.id.slice(1)}`;
          for (const other of found.slice(1)) {
            moveEmails.run(thread, account, other);
            moveRefs.run(thread, account, other);
          }
          for (const m of ids) setRef.run(account, m, thread);
          setEmail.run(account, d.id, thread);
        }
      })();
    });
  }

  remove(account: string, ids: readonly string[]): Promise<void> {
    return runStore(() => {
      const now = Date.now();
      const mark = this.#db.prepare('UPDATE emails SET gone = ? WHERE account = ? AND id = ? AND gone IS NULL');
      this.#db.transaction(() => {
        for (const id of ids) mark.run(now, account, id);
        this.#db.prepare('DELETE FROM emails WHERE account = ? AND gone < ?').run(account, now - goneKeptMs);
      })();
    });
  }

  gone(account: string, ids: readonly string[]): Promise<Map<string, string>> {
    return runStore(() => {
      const get = this.#db.prepare('SELECT thread FROM emails WHERE account = ? AND id = ? AND gone IS NOT NULL').pluck();
      const out = new Map<string, string>();
      for (const id of ids) {
        const t = get.get(account, id) as string | undefined;
        if (t !== undefined) out.set(id, t);
      }
      return out;
    });
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
