/**
 * @module pg-listen-session
 * One PostgreSQL connection that LISTENs on some channels and comes back by itself: when the
 * connection fails, ends, or its owner gives it up (a read on it that failed or timed out), it
 * is closed and opened again after a pause that doubles from 250 ms up to 5 s, and the owner is
 * told `down` then `up` again, so it can treat everything it learnt as possibly stale and read
 * again. Used by the mailbox notifier (IDLE and JMAP push across nodes) and the directory's
 * domain cache. listenHears() tells whether a LISTEN on a url hears anything at all (`correio
 * check`).
 * Standards: PostgreSQL LISTEN/NOTIFY (delivered after commit; LISTEN before a read means a
 *   change committed after the read's snapshot is always heard).
 * Security: the url may carry a password: it is never logged. Channel names are our own
 *   constants (the probe's, random hex), never input.
 * Limitations: a connection cut without an error (a silent partition) is only noticed by the
 *   TCP keepalive or by a failing query on it (`lose`); the owner bounds staleness by its own
 *   periodic reads where that matters.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface PgListenHandlers {
  /** the session listens (first time or after a reconnect); `client` may be used for reads */
  readonly up: (client: pg.Client) => void | Promise<void>;
  /** the session was lost; `up` follows once it is back */
  readonly down?: () => void;
  readonly notification: (n: pg.Notification) => void;
}

export interface PgListenOptions {
  /** application_name shown in pg_stat_activity */
  readonly name: string;
  /** a timeout for queries on the session, ms (none by default) */
  readonly queryTimeoutMs?: number;
  /** whether the reconnect timer keeps the process alive (default true) */
  readonly holdProcess?: boolean;
}

export class PgListenSession {
  readonly #url: string;
  readonly #channels: readonly string[];
  readonly #handlers: PgListenHandlers;
  readonly #opts: PgListenOptions;
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #pause = 250;
  #closed = false;
  #lose: (() => void) | undefined;

  constructor(url: string, channels: readonly string[], handlers: PgListenHandlers, opts: PgListenOptions) {
    this.#url = url;
    this.#channels = channels;
    this.#handlers = handlers;
    this.#opts = opts;
  }

  /** The listening connection, while it is up. */
  get client(): pg.Client | undefined {
    return this.#client;
  }

  /** Connects unless connected, connecting or waiting to retry; resolves after this attempt (and `up`). */
  ensure(): Promise<void> {
    if (this.#closed || this.#client || this.#retry) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Gives up the current connection (a read on it failed): it is opened again after the pause. */
  lose(): void {
    this.#lose?.();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url, connectionTimeoutMillis: 10_000, keepAlive: true, application_name: this.#opts.name,
      ...(this.#opts.queryTimeoutMs !== undefined && { query_timeout: this.#opts.queryTimeoutMs }),
    });
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      const wasUp = this.#client === client;
      if (wasUp) {
        this.#client = undefined;
        this.#lose = undefined;
      }
      client.end().catch(() => undefined);
      if (wasUp) this.#handlers.down?.();
      this.#later();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => this.#handlers.notification(n));
    try {
      await client.connect();
      await client.query(this.#channels.map((c) => `LISTEN ${c}`).join('; '));
    } catch {
      onLost();
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#lose = onLost;
    this.#pause = 250;
    await this.#handlers.up(client);
  }

  #later(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.ensure();
    }, this.#pause);
    if (this.#opts.holdProcess === false) this.#retry.unref();
    this.#pause = Math.min(this.#pause * 2, 5000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    await this.#connecting;
    const c = this.#client;
    this.#client = undefined;
    this.#lose = undefined;
    await c?.end().catch(() => undefined);
  }
}

/**
 * Whether a LISTEN on `url` hears, within `ms`, a NOTIFY sent through a second connection to the
 * same url; undefined when either cannot connect. Behind a transaction-pooling PgBouncer it does
 * not: the LISTEN ran on a server connection that went back to the pool, and PgBouncer drops a
 * notification for a server connection no client holds, with no error on either side.
 */
export async function listenHears(url: string, ms: number): Promise<boolean | undefined> {
  // our own channel and payload (random hex), so no other session's traffic counts
  const channel = `correio_probe_${randomBytes(8).toString('hex')}`;
  const token = randomBytes(8).toString('hex');
  const open = (): pg.Client => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'correio check' });
    c.on('error', () => undefined);
    return c;
  };
  const listener = open();
  const sender = open();
  let timer: NodeJS.Timeout | undefined;
  try {
    await listener.connect();
    await listener.query(`LISTEN ${channel}`);
    const heard = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      listener.on('notification', (n) => {
        if (n.channel === channel && n.payload === token) resolve(true);
      });
    });
    await sender.connect();
    await sender.query('SELECT pg_notify($1, $2)', [channel, token]);
    return await heard;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    await Promise.all([listener.end().catch(() => undefined), sender.end().catch(() => undefined)]);
  }
}
