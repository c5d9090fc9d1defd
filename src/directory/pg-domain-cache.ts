/**
 * @module pg-domain-cache
 * The local domains of a PostgreSQL directory, and whether any user has limits of their own
 * (anyOwnQuota, asked by the quota gate at every RCPT and delivery), held in memory by a serving
 * node so that RCPT (relay control, the resolver's local/remote decision, the quota gate) asks
 * no query per recipient. Every change to `dir_domains`, by any node or by hand, sends
 * `NOTIFY correio_domains` (a statement trigger, directory migration 9), every user inserted
 * with a quota or whose quota changes `correio_quotas` (row triggers, migration 10; delivered
 * at COMMIT, one per transaction); the cache LISTENs
 * on its own connection and reads both again after each notification, after this node's own
 * changes, and every `refreshMs` (default 30 s) in any case. A user removed sends nothing:
 * "someone has limits" may stay true (users are then looked up, as without the cache) until
 * the next read.
 * The LISTEN connection and its reconnects are util/pg-listen-session's.
 * The set is answered from only while it is known to be current: from the first read after
 * LISTEN until a notification or a change arrives (then until the read that follows it), and
 * never while the LISTEN session is down (then every lookup queries PostgreSQL, as without the
 * cache, until the session is back and the table read again).
 * Standards: PostgreSQL LISTEN/NOTIFY (delivered after commit).
 * Security: the payload is ignored; only the table's rows are believed.
 * Limitations: a domain added or removed on another node is seen here when its notification
 *   arrives (milliseconds); if the LISTEN session is cut without the connection failing (a
 *   silent network partition), a change can go unseen until the next periodic read, at most
 *   refreshMs plus its 10 s query timeout. Behind a transaction-pooling PgBouncer the session
 *   needs `[storage] listen_url` (straight to PostgreSQL), as the mailboxes' notifier does.
 */
import { PgListenSession } from '../util/index.js';

export const domainsChannel = 'correio_domains';
export const quotasChannel = 'correio_quotas';

export interface PgDomainCacheOptions {
  /** ms between reads of the table besides those notifications cause (default 30 s) */
  readonly refreshMs?: number;
}

export class PgDomainCache {
  readonly #refreshMs: number;
  readonly #session: PgListenSession;
  /** the domains, while known to be current */
  #domains: ReadonlySet<string> | undefined;
  /** whether any user has limits of their own, current exactly when #domains is */
  #ownQuotas = true;
  /** bumped by every notification and local change: a read started before the last bump is stale */
  #generation = 0;
  #reading: Promise<void> | undefined;
  #refresh: NodeJS.Timeout | undefined;
  #closed = false;
  #started: Promise<void> | undefined;

  constructor(url: string, opts: PgDomainCacheOptions = {}) {
    this.#refreshMs = opts.refreshMs ?? 30_000;
    this.#session = new PgListenSession(url, [domainsChannel, quotasChannel], {
      up: async () => {
        this.#refresh = setInterval(() => this.#read(), this.#refreshMs);
        this.#refresh.unref();
        this.#read();
        await this.#reading;
      },
      down: () => {
        clearInterval(this.#refresh);
        this.#refresh = undefined;
        this.#domains = undefined;
        this.#generation++;
      },
      notification: () => this.changed(),
    }, { name: 'correio domains', queryTimeoutMs: 10_000, holdProcess: false });
  }

  /** Connects and reads the table; resolves after the first attempt, whether or not it worked. */
  start(): Promise<void> {
    this.#started ??= this.#session.ensure();
    return this.#started;
  }

  /** Whether `domain` (normalized) is local, or undefined when the set is not known to be current (then ask PostgreSQL). */
  has(domain: string): boolean | undefined {
    return this.#domains?.has(domain);
  }

  /** Whether any user has limits of their own, or undefined when not known to be current (then ask PostgreSQL). */
  anyOwnQuota(): boolean | undefined {
    return this.#domains === undefined ? undefined : this.#ownQuotas;
  }

  /** Whether lookups are answered from memory now (tests, status). */
  get current(): boolean {
    return this.#domains !== undefined;
  }

  /** This node changed the table: forget the set at once (read-your-writes), read it again. */
  changed(): void {
    this.#generation++;
    this.#domains = undefined;
    this.#read();
  }

  /** Reads the table on the LISTEN session, again while notifications arrived during the read. */
  #read(): void {
    const client = this.#session.client;
    if (this.#reading || !client || this.#closed) return;
    this.#reading = (async () => {
      try {
        for (;;) {
          const generation = this.#generation;
          const r = await client.query<{ name: string }>('SELECT name FROM dir_domains');
          const q = await client.query('SELECT 1 FROM dir_users WHERE quota_storage IS NOT NULL OR quota_messages IS NOT NULL LIMIT 1');
          if (this.#session.client !== client) return;
          if (generation === this.#generation) {
            this.#ownQuotas = (q.rowCount ?? 0) > 0;
            this.#domains = new Set(r.rows.map((row) => row.name));
            return;
          }
        }
      } catch {
        // a read that fails or times out: the session is not to be trusted
        if (this.#session.client === client) this.#session.lose();
      }
    })().finally(() => {
      this.#reading = undefined;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#refresh);
    await this.#started;
    await this.#reading;
    clearInterval(this.#refresh);
    this.#domains = undefined;
    await this.#session.close();
  }
}
