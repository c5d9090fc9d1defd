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
import pg from 'pg';

export const domainsChannel = 'correio_domains';
export const quotasChannel = 'correio_quotas';

export interface PgDomainCacheOptions {
  /** ms between reads of the table besides those notifications cause (default 30 s) */
  readonly refreshMs?: number;
}

export class PgDomainCache {
  readonly #url: string;
  readonly #refreshMs: number;
  #client: pg.Client | undefined;
  /** the domains, while known to be current */
  #domains: ReadonlySet<string> | undefined;
  /** whether any user has limits of their own, current exactly when #domains is */
  #ownQuotas = true;
  /** bumped by every notification and local change: a read started before the last bump is stale */
  #generation = 0;
  #reading: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #refresh: NodeJS.Timeout | undefined;
  #pause = 250;
  #closed = false;
  #started: Promise<void> | undefined;
  /** gives up the current session (a failed read) */
  #lose: (() => void) | undefined;

  constructor(url: string, opts: PgDomainCacheOptions = {}) {
    this.#url = url;
    this.#refreshMs = opts.refreshMs ?? 30_000;
  }

  /** Connects and reads the table; resolves after the first attempt, whether or not it worked. */
  start(): Promise<void> {
    this.#started ??= this.#connect();
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

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url, connectionTimeoutMillis: 10_000, query_timeout: 10_000, keepAlive: true, application_name: 'correio domains',
    });
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      if (this.#client === client) {
        this.#client = undefined;
        this.#domains = undefined;
        this.#generation++;
      }
      client.end().catch(() => undefined);
      this.#later();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', () => this.changed());
    this.#lose = onLost;
    try {
      await client.connect();
      // LISTEN before the read: a change committed after the read's snapshot is always heard
      await client.query(`LISTEN ${domainsChannel}; LISTEN ${quotasChannel}`);
    } catch {
      onLost();
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#pause = 250;
    this.#refresh = setInterval(() => this.#read(), this.#refreshMs);
    this.#refresh.unref();
    this.#read();
    await this.#reading;
  }

  /** Reads the table on the LISTEN session, again while notifications arrived during the read. */
  #read(): void {
    if (this.#reading || !this.#client) return;
    const client = this.#client;
    this.#reading = (async () => {
      try {
        for (;;) {
          const generation = this.#generation;
          const r = await client.query<{ name: string }>('SELECT name FROM dir_domains');
          const q = await client.query('SELECT 1 FROM dir_users WHERE quota_storage IS NOT NULL OR quota_messages IS NOT NULL LIMIT 1');
          if (this.#client !== client) return;
          if (generation === this.#generation) {
            this.#ownQuotas = (q.rowCount ?? 0) > 0;
            this.#domains = new Set(r.rows.map((row) => row.name));
            return;
          }
        }
      } catch {
        // a read that fails or times out: the session is not to be trusted
        if (this.#client === client) this.#lose?.();
      }
    })().finally(() => {
      this.#reading = undefined;
    });
  }

  #later(): void {
    clearInterval(this.#refresh);
    this.#refresh = undefined;
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) void this.#connect();
    }, this.#pause);
    this.#retry.unref();
    this.#pause = Math.min(this.#pause * 2, 5000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#refresh);
    await this.#started;
    await this.#reading;
    this.#domains = undefined;
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => undefined);
  }
}
