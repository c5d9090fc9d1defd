/**
 * @module mail-threads
 * Conversations of an account's messages (JMAP Threads, RFC 8621 §3): each message is given to
 * the index once with its Message-ID and the ids it names in In-Reply-To and References, and
 * the index answers which thread each message is in. Thread ids are kept, so they stay the
 * same across restarts and for a message seen again under another id (a copy or a move: the
 * same Message-ID).
 * Standards: RFC 8621 §3 (Threads); RFC 5322 §3.6.4 (Message-ID, In-Reply-To, References);
 *   RFC 5256 §2.2 (REFERENCES threading, without its subject merging: see docs/web.md).
 * Security: an account's messages are only ever threaded with that account's.
 * Limitations: two threads joined by a later message become one, and the emails of the
 *   thread given up change their threadId.
 */

export interface ThreadDoc {
  /** the caller's id of the message (a JMAP Email id) */
  readonly id: string;
  /** its Message-ID, without angle brackets; absent: the message is its own thread unless it refers to others */
  readonly messageId?: string;
  /** the ids of In-Reply-To and References, oldest ancestor first */
  readonly refs: readonly string[];
}

export interface MailThreadIndex {
  /** message id → thread id, for every message of the account given and not removed */
  threads(account: string): Promise<Map<string, string>>;
  /** Threads messages (each joins the thread of any id it shares, or starts one); ids given again are ignored. */
  add(account: string, docs: readonly ThreadDoc[]): Promise<void>;
  /** Forgets messages gone from the account (their thread ids stay answerable by `gone` for a while). */
  remove(account: string, ids: readonly string[]): Promise<void>;
  /** the thread ids of removed messages, for those still remembered */
  gone(account: string, ids: readonly string[]): Promise<Map<string, string>>;
  close(): Promise<void>;
}
