/**
 * @module pg-thread-index
 * The conversation index (core MailThreadIndex) beside the PostgreSQL mailboxes (tables
 * mail_threads and mail_thread_refs, pg-mail-schema version 4), shared by every node: a
 * message delivered on one node has the same threadId on all of them. The rules are those of
 * the SQLite index (sqlite-thread-index.ts): a new message joins the thread of the first of its
 * ids (References' oldest ancestor first) already known; ids in several threads merge them
 * into the first's; a thread's id is "t" + the rest of the id of the message that started it.
 * A batch is one transaction under the account's advisory lock, so two nodes indexing the
 * same account at once are ordered (the second finds the messages known and adds nothing).
 * Standards: RFC 8621 §3; RFC 5256 §2.2 (the References links, no subject merging).
 * Security: every statement names the account; bound parameters only; failures are MailError
 *   451 4.3.0 (PgMailStore.tx).
 * Limitations: a removed message's row stays 30 days (for Thread/changes), then goes; the ids
 *   of messages never seen stay linked to their thread for good. A node whose view of the
 *   account is older than another's may mark a message gone that the other just added; the
 *   next catch-up that sees it adds it back (its thread found again from its ids).
 */
import type { MailThreadIndex, ThreadDoc } from '../core/index.js';
import type { PgClient } from '../util/index.js';
import type { PgMailStore } from './pg-mail-store.js';

/** how long a removed message's thread is remembered */
const goneKeptMs = 30 * 86_400_000;

/** Serialises an account's thread changes across nodes (released at COMMIT). */
async function lockAccount(c: PgClient, account: string): Promise<void> {
  await c.query("SELECT pg_advisory_xact_lock(hashtext('correio threads ' || $1))", [account]);
}

export class PgThreadIndex implements MailThreadIndex {
  constructor(private readonly store: PgMailStore) {}

  async threads(account: string): Promise<Map<string, string>> {
    const rows = await this.store.query<{ id: string; thread: string }>('SELECT id, thread FROM mail_threads WHERE account = $1 AND gone IS NULL', [account]);
    return new Map(rows.map((r) => [r.id, r.thread]));
  }

  add(account: string, docs: readonly ThreadDoc[]): Promise<void> {
    if (docs.length === 0) return Promise.resolve();
    return this.store.tx(async (c) => {
      await lockAccount(c, account);
      const present = new Set(
        (await c.query<{ id: string }>('SELECT id FROM mail_threads WHERE account = $1 AND id = ANY($2) AND gone IS NULL', [account, docs.map((d) => d.id)])).rows.map((r) => r.id),
      );
      const todo = docs.filter((d) => !present.has(d.id));
      if (todo.length === 0) return;
      const idsOf = (d: ThreadDoc): string[] => [...new Set([...d.refs, ...(d.messageId ? [d.messageId] : [])])];
      // the threads of every id the batch names, then the batch threaded in memory in order
      const refs = new Map(
        (await c.query<{ msgid: string; thread: string }>('SELECT msgid, thread FROM mail_thread_refs WHERE account = $1 AND msgid = ANY($2)', [account, [...new Set(todo.flatMap(idsOf))]])).rows.map((r) => [r.msgid, r.thread]),
      );
      const emails = new Map<string, string>();
      const merges: [from: string, to: string][] = [];
      for (const d of todo) {
        if (emails.has(d.id)) continue;
        const ids = idsOf(d);
        const found: string[] = [];
        for (const m of ids) {
          const t = refs.get(m);
          if (t !== undefined && !found.includes(t)) found.push(t);
        }
        const thread = found[0] ?? `t${d.id.slice(1)}`;
        for (const other of found.slice(1)) {
          merges.push([other, thread]);
          for (const map of [refs, emails]) for (const [k, t] of map) if (t === other) map.set(k, thread);
        }
        for (const m of ids) refs.set(m, thread);
        emails.set(d.id, thread);
      }
      // merges in order (a chain a → b → c ends in c), then the batch's final rows
      for (const [from, to] of merges) {
        await c.query('UPDATE mail_threads SET thread = $3 WHERE account = $1 AND thread = $2', [account, from, to]);
        await c.query('UPDATE mail_thread_refs SET thread = $3 WHERE account = $1 AND thread = $2', [account, from, to]);
      }
      await c.query(
        `INSERT INTO mail_thread_refs (account, msgid, thread) SELECT $1, * FROM unnest($2::text[], $3::text[])
         ON CONFLICT (account, msgid) DO UPDATE SET thread = excluded.thread`,
        [account, [...refs.keys()], [...refs.values()]],
      );
      await c.query(
        `INSERT INTO mail_threads (account, id, thread, gone) SELECT $1, id, thread, NULL FROM unnest($2::text[], $3::text[]) AS e (id, thread)
         ON CONFLICT (account, id) DO UPDATE SET thread = excluded.thread, gone = NULL`,
        [account, [...emails.keys()], [...emails.values()]],
      );
    });
  }

  async remove(account: string, ids: readonly string[]): Promise<void> {
    const now = this.store.now();
    await this.store.tx(async (c) => {
      await lockAccount(c, account);
      await c.query('UPDATE mail_threads SET gone = $3 WHERE account = $1 AND id = ANY($2) AND gone IS NULL', [account, [...ids], now]);
      await c.query('DELETE FROM mail_threads WHERE account = $1 AND gone < $2', [account, now - goneKeptMs]);
    });
  }

  async gone(account: string, ids: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.store.query<{ id: string; thread: string }>(
      'SELECT id, thread FROM mail_threads WHERE account = $1 AND id = ANY($2) AND gone IS NOT NULL',
      [account, [...ids]],
    );
    return new Map(rows.map((r) => [r.id, r.thread]));
  }

  /** The mailbox store owns the connections. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
