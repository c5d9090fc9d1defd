/**
 * @module pg-mail-notifier
 * Folder changes across nodes: every change to a folder in PostgreSQL sends
 * `NOTIFY correio_mail, '<user>\n<folder>'` inside its transaction (delivered at COMMIT, to
 * every node, this one included); each node holds one connection that LISTENs and calls the
 * watchers of that folder (IMAP IDLE, JMAP push). When that connection breaks, it is opened
 * again (util/pg-listen-session) and then every watcher is called once: changes made while it
 * was away are found by the watchers' resync (a sync or changesSince from their MODSEQ).
 * Standards: PostgreSQL LISTEN/NOTIFY (payload < 8000 bytes, delivered after commit, in
 *   commit order per sending session).
 * Security: the payload names a user and folder only; it is matched, never executed.
 * Limitations: a notification is a hint: watchers must re-read; calls are coalesced per
 *   watcher (20 ms), as the Maildir watcher's.
 */
import { PgListenSession, type PgClient } from '../util/index.js';

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
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #session: PgListenSession;
  #closed = false;

  constructor(url: string) {
    this.#session = new PgListenSession(url, [mailChannel], {
      // whatever changed while no one listened: every watcher re-reads its folder
      up: () => {
        for (const set of this.#watchers.values()) for (const w of set) this.#fire(w);
      },
      notification: (n) => {
        for (const w of this.#watchers.get(n.payload ?? '') ?? []) this.#fire(w);
      },
    }, { name: 'correio mail notify' });
  }

  /** Calls `onChange` (coalesced) when the folder `owner`/`folder` may have changed. */
  watch(owner: string, folder: string, onChange: () => void): () => void {
    const id = `${owner}\n${folder}`;
    const w: Watcher = { onChange, timer: undefined };
    let set = this.#watchers.get(id);
    if (!set) this.#watchers.set(id, (set = new Set()));
    set.add(w);
    void this.#session.ensure();
    return () => {
      clearTimeout(w.timer);
      set.delete(w);
      if (set.size === 0) this.#watchers.delete(id);
    };
  }

  /** Whether the LISTEN connection is up (tests). */
  get listening(): boolean {
    return this.#session.client !== undefined;
  }

  /** Resolves once listening (or after the first failed attempt). */
  async ready(): Promise<void> {
    await this.#session.ensure();
  }

  #fire(w: Watcher): void {
    if (w.timer || this.#closed) return;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.onChange();
    }, 20);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#session.close();
    for (const set of this.#watchers.values()) for (const w of set) clearTimeout(w.timer);
    this.#watchers.clear();
  }
}
