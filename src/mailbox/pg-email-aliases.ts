/**
 * @module pg-email-aliases
 * JMAP Email ids kept across moves (core EmailAliases) beside the PostgreSQL mailboxes (table
 * mail_email_aliases, pg-mail-schema version 4), shared by every node: an Email moved over JMAP
 * on one node keeps its id on all of them.
 * Standards: RFC 8621 §4.1.1 (an Email's id is immutable).
 * Security: every statement names the account; bound parameters only; failures are MailError
 *   451 4.3.0 (PgMailStore).
 * Limitations: rows are never removed (one small row per JMAP move; a place id names one UID
 *   of one UIDVALIDITY, never given again).
 */
import type { EmailAliases } from '../core/index.js';
import type { PgMailStore } from './pg-mail-store.js';

export class PgEmailAliases implements EmailAliases {
  constructor(private readonly store: PgMailStore) {}

  async aliases(account: string): Promise<Map<string, string>> {
    const rows = await this.store.query<{ place: string; id: string }>('SELECT place, id FROM mail_email_aliases WHERE account = $1', [account]);
    return new Map(rows.map((r) => [r.place, r.id]));
  }

  async add(account: string, pairs: readonly (readonly [string, string])[]): Promise<void> {
    if (pairs.length === 0) return;
    // one row per place (the last pair given wins, as one statement may touch a row once)
    const byPlace = new Map(pairs);
    await this.store.query(
      `INSERT INTO mail_email_aliases (account, place, id) SELECT $1, * FROM unnest($2::text[], $3::text[])
       ON CONFLICT (account, place) DO UPDATE SET id = excluded.id`,
      [account, [...byPlace.keys()], [...byPlace.values()]],
    );
  }

  /** The mailbox store owns the connections. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
