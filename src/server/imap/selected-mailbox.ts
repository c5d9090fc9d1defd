/**
 * @module selected-mailbox
 * One session's view of its selected mailbox: messages by sequence number, their UIDs and
 * flags as this session last reported them, and the untagged updates (EXISTS, EXPUNGE,
 * FETCH FLAGS) that bring the client up to date with the store when the rules allow.
 * Standards: RFC 9051 §7.5.1 (EXPUNGE renumbers; never sent during FETCH, STORE or SEARCH, nor
 *   when no command is in progress), §7.4.1 (EXISTS), §2.3.2 (system flags), §7 (a server
 *   reports other sessions' changes); the Maildir info flags: D Draft, F Flagged, P Passed,
 *   R Replied, S Seen, T Trashed.
 * Security: a message removed by someone else while the session may not yet report it stays
 *   in the view (FETCH of it answers no data) so sequence numbers never shift silently.
 * Limitations: keywords are not stored (PERMANENTFLAGS lists the system flags only); \Recent
 *   is never set; each look at the store is a folder sync (O(messages)), made only after a
 *   change was signalled (hub or file system watch) or a second has passed.
 */
import type { FolderMessage, FolderSnapshot, MailFolderStore } from '../../core/index.js';

export interface ViewMessage {
  uid: number;
  key: string;
  /** Maildir info flags as last reported to this session */
  flags: string;
  size: number;
  receivedAt: number;
  /** removed from the store, not yet reported with EXPUNGE */
  gone: boolean;
}

const toImap: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };
const toMaildir: Record<string, string> = { '\\DRAFT': 'D', '\\FLAGGED': 'F', '\\ANSWERED': 'R', '\\SEEN': 'S', '\\DELETED': 'T' };

export const systemFlags = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** IMAP flags of Maildir info flags (P, Passed, has no IMAP system flag and is not shown). */
export function imapFlags(maildir: string): string[] {
  const out: string[] = [];
  for (const c of maildir) if (toImap[c]) out.push(toImap[c]);
  return out;
}

/** Maildir letters of IMAP flags; flags without a letter (keywords, \Recent) are dropped. */
export function maildirLetters(flags: readonly string[]): string {
  let out = '';
  for (const f of flags) out += toMaildir[f.toUpperCase()] ?? '';
  return out;
}

export function normalizeLetters(s: string): string {
  return [...new Set(s)].sort().join('');
}

export class SelectedMailbox {
  messages: ViewMessage[] = [];
  uidValidity = 0;
  uidNext = 1;
  /** a change may be waiting in the store */
  dirty = false;
  private lastSync = 0;

  constructor(
    readonly user: string,
    /** the folder as the store names it ("INBOX" or the Maildir++ name) */
    readonly folder: string,
    readonly readOnly: boolean,
    private readonly store: MailFolderStore,
  ) {}

  async open(): Promise<void> {
    const snap = await this.store.sync(this.user, this.folder);
    this.lastSync = Date.now();
    this.uidValidity = snap.uidValidity;
    this.uidNext = snap.uidNext;
    this.messages = snap.messages.map(fromSnapshot);
  }

  get exists(): number {
    return this.messages.length;
  }

  get maxUid(): number {
    return this.messages.length === 0 ? 0 : this.messages[this.messages.length - 1].uid;
  }

  /** The sequence number (1-based) of a UID, or 0. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.messages.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const u = this.messages[mid].uid;
      if (u === uid) return mid + 1;
      if (u < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /**
   * Looks at the store (when a change was signalled, or `force`, or a second passed) and
   * returns the untagged lines to send: FETCH FLAGS for changed flags, EXPUNGE (only when
   * `expunge` is allowed) and EXISTS.
   */
  async refresh(expunge: boolean, force = false): Promise<string[]> {
    if (!force && !this.dirty && Date.now() - this.lastSync < 1000) return expunge ? this.reportGone() : [];
    this.dirty = false;
    let snap: FolderSnapshot;
    try {
      snap = await this.store.sync(this.user, this.folder);
    } catch {
      return [];
    }
    this.lastSync = Date.now();
    return this.apply(snap, expunge);
  }

  private apply(snap: FolderSnapshot, expunge: boolean): string[] {
    const out: string[] = [];
    if (snap.uidValidity !== this.uidValidity) {
      // RFC 9051 §2.3.1.1: the client must start again; the session ends (imap-session)
      throw new UidValidityChanged();
    }
    const byUid = new Map<number, FolderMessage>(snap.messages.map((m) => [m.uid, m]));
    this.messages.forEach((m, i) => {
      const now = byUid.get(m.uid);
      if (!now) {
        m.gone = true;
        return;
      }
      if (!m.gone && now.flags !== m.flags) {
        m.flags = now.flags;
        out.push(`* ${i + 1} FETCH (UID ${m.uid} FLAGS (${imapFlags(m.flags).join(' ')}))`);
      }
      m.key = now.key;
    });
    if (expunge) out.push(...this.reportGone());
    const known = this.maxUid;
    const fresh = snap.messages.filter((m) => m.uid > known);
    if (fresh.length > 0) {
      this.messages.push(...fresh.map(fromSnapshot));
      out.push(`* ${this.messages.length} EXISTS`);
    }
    this.uidNext = Math.max(this.uidNext, snap.uidNext);
    return out;
  }

  /** EXPUNGE lines for messages gone from the store, highest first, so numbers stay valid. */
  reportGone(): string[] {
    const out: string[] = [];
    for (let i = this.messages.length - 1; i >= 0; i--) {
      if (this.messages[i].gone) {
        out.push(`* ${i + 1} EXPUNGE`);
        this.messages.splice(i, 1);
      }
    }
    return out;
  }
}

export class UidValidityChanged extends Error {}

function fromSnapshot(m: FolderMessage): ViewMessage {
  return { uid: m.uid, key: m.key, flags: m.flags, size: m.size, receivedAt: m.receivedAt, gone: false };
}
