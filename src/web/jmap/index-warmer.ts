/**
 * @module index-warmer
 * Keeps the accounts' indexes (email-search.ts: full text and conversations) current without
 * waiting for a client: at start every account is caught up in turn, in the background, and
 * each account's INBOX is watched so that a delivery is read into the indexes within a second
 * or so. APPENDs and copies into other folders, over IMAP or JMAP, are read when the account's
 * view next changes (any JMAP request, a push stream) — still before any search needs them.
 * Standards: none.
 * Security: reads only the accounts of the directory, through the folder store.
 * Limitations: INBOX watches are kept for the first `maxWatched` accounts (file-system
 *   watches are a limited resource); the others are indexed at start and at their next use.
 *   An account with an empty INBOX is looked at every 2 seconds until its first delivery.
 */
import type { EmailSearch } from './email-search.js';
import type { MailView } from './mail-view.js';

export interface IndexWarmerOptions {
  readonly users: () => Promise<readonly string[]>;
  readonly mailView: MailView;
  readonly search: EmailSearch;
  readonly signal: AbortSignal;
  readonly onError: (user: string, err: unknown) => void;
  readonly maxWatched?: number;
}

/** Starts the background catch-up; it stops when `signal` aborts. */
export function startIndexWarmer(o: IndexWarmerOptions): void {
  const folders = o.mailView.folders;
  const stops: (() => void)[] = [];
  const queued = new Set<string>();
  let chain = Promise.resolve();
  const catchUp = (user: string): void => {
    if (queued.has(user) || o.signal.aborted) return;
    queued.add(user);
    // one account at a time: the catch-up reads files, the server has other work
    chain = chain.then(async () => {
      queued.delete(user);
      if (o.signal.aborted) return;
      try {
        const view = await o.mailView.load(user, { ensureFolders: false });
        await o.search.catchUp(user, view.emails, folders);
      } catch (err) {
        if (!o.signal.aborted) o.onError(user, err);
      }
    });
  };
  o.signal.addEventListener('abort', () => stops.splice(0).forEach((stop) => stop()), { once: true });
  const watchInbox = (user: string): void => {
    let timer: NodeJS.Timeout | undefined;
    stops.push(
      folders.watch(user, 'INBOX', () => {
        timer ??= setTimeout(() => {
          timer = undefined;
          catchUp(user);
        }, 500).unref();
      }),
      () => clearTimeout(timer),
    );
  };
  // accounts without a mailbox yet (nothing delivered): looked at again until there is one to watch
  const waiting = new Set<string>();
  const look = setInterval(() => {
    for (const user of waiting) {
      void folders.sync(user, 'INBOX').then((inbox) => {
        if (inbox.list.length === 0 || !waiting.delete(user) || o.signal.aborted) return;
        watchInbox(user);
        catchUp(user);
      }, () => undefined);
    }
  }, 2000).unref();
  stops.push(() => clearInterval(look));
  void (async () => {
    let users: readonly string[];
    try {
      users = await o.users();
    } catch (err) {
      o.onError('', err);
      return;
    }
    for (const [i, user] of users.entries()) {
      if (o.signal.aborted) return;
      catchUp(user);
      if (i >= (o.maxWatched ?? 1000)) continue;
      // an INBOX never delivered to has no directory to watch yet
      const inbox = await folders.sync(user, 'INBOX').catch(() => undefined);
      if (inbox && inbox.list.length > 0) watchInbox(user);
      else waiting.add(user);
    }
  })();
}
