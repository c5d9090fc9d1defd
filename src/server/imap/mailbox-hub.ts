/**
 * @module mailbox-hub
 * Within one server process, the sessions that have a mailbox selected, so that a change made
 * by one (STORE, EXPUNGE, APPEND, COPY or MOVE into it) marks the others to look again at
 * the next moment RFC 9051 §7 lets them report it (or at once when they IDLE).
 * Standards: RFC 9051 §5.2 (a server notifies other sessions of mailbox changes), §7.
 * Security: keyed by the authenticated user and folder: a session only hears of its own user's
 *   mailboxes.
 * Limitations: per process; changes from outside (delivery, POP3, other programs) are seen
 *   through each session's file system watch and periodic check.
 */

export interface HubListener {
  /** the mailbox changed elsewhere: look again when allowed */
  changed(): void;
}

export class MailboxHub {
  private readonly byMailbox = new Map<string, Set<HubListener>>();

  private key(user: string, folder: string): string {
    return `${user}\u0000${folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder}`;
  }

  join(user: string, folder: string, l: HubListener): () => void {
    const k = this.key(user, folder);
    let set = this.byMailbox.get(k);
    if (!set) this.byMailbox.set(k, (set = new Set()));
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0) this.byMailbox.delete(k);
    };
  }

  /** Tells every session on the mailbox but `from` that it changed. */
  notify(user: string, folder: string, from?: HubListener): void {
    for (const l of this.byMailbox.get(this.key(user, folder)) ?? []) if (l !== from) l.changed();
  }
}
