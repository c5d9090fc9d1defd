/**
 * @module pg-mail-notifier
 * Folder changes across nodes: every change to a folder in PostgreSQL sends
 * `NOTIFY correio_mail, '<user>\n<folder>'` inside its transaction (delivered at COMMIT, to
 * every node, this one included); each node holds one connection that LISTENs and calls the
 * watchers of that folder (IMAP IDLE, JMAP push). When that connection breaks, the notifier
 * reconnects with a growing pause and then calls every watcher once: changes made while it
 * was away are found by the watchers' resync (a sync or changesSince from their MODSEQ).
 * Standards: PostgreSQL LISTEN/NOTIFY (payload < 8000 bytes, delivered after commit, in
 *   commit order per sending session).
 * Security: the payload names a user and folder only; it is matched, never executed.
 * Limitations: a notification is a hint: watchers must re-read; calls are coalesced per
 *   watcher (20 ms), as the Maildir watcher's.
 */
import pg from 'pg';
import type { PgClient } from '../util/index.js';

export const mailChannel = 'correio_mail';

/** Inside a transaction: tells every node (at COMMIT) that a folder changed. */
export async function notifyFolder(c: PgClient, owner: string, folder: string): Promise<void> {
  await c.query('SELECT pg_notify($1, $2)', [mailChannel, `${owner}\n${folder}`]);
}

interface Watcher {
  readonly onChange: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class PgMailNotifier {
  readonly #url: string;
  readonly #watchers = new Map<string, Set<Watcher>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #pause = 250;
  #closed = false;

  constructor(url: string) {
    this.#url = url;
  }

  /** Calls `onChange` (coalesced) when the folder `owner`/`folder` may have changed. */
  watch(owner: string, folder: string, onChange: () => void): () => void {
    const id = `${owner}\n${folder}`;
    const w: Watcher = { onChange, timer: undefined };
    let set = this.#watchers.get(id);
    if (!set) this.#watchers.set(id, (set = new Set()));
    set.add(w);
    this.#ensure();
    return () => {
      clearTimeout(w.timer);
      set.delete(w);
      if (set.size === 0) this.#watchers.delete(id);
    };
  }

  /** Whether the LISTEN connection is up (tests). */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Resolves once listening (or after the first failed attempt). */
  async ready(): Promise<void> {
    this.#ensure();
    await this.#connecting;
  }

  #fire(w: Watcher): void {
    if (w.timer) return;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.onChange();
    }, 20);
  }

  #ensure(): void {
    if (this.#closed || this.#client || this.#connecting || this.#retry) return;
    this.#connecting = this.#connect().finally(() => {
      this.#connecting = undefined;
    });
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 10_000, application_name: 'correio mail notify' });
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => undefined);
      this.#later();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => {
      for (const w of this.#watchers.get(n.payload ?? '') ?? []) this.#fire(w);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${mailChannel}`);
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
    // whatever changed while no one listened: every watcher re-reads its folder
    for (const set of this.#watchers.values()) for (const w of set) this.#fire(w);
  }

  #later(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#ensure();
    }, this.#pause);
    this.#pause = Math.min(this.#pause * 2, 5000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#connecting;
    for (const set of this.#watchers.values()) for (const w of set) clearTimeout(w.timer);
    this.#watchers.clear();
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => undefined);
  }
}
