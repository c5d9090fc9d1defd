/**
 * @module mail-search
 * A full-text index of an account's messages, for searches that must not read every message
 * (JMAP Email/query text conditions on a large folder). Documents are a message's searchable
 * text under an id chosen by the caller; a search gives the ids whose text holds every word.
 * Standards: none (matching rules are the backend's: substrings, case and accents
 *   folded).
 * Security: an account's documents are only ever searched for that account.
 * Limitations: a candidate filter: callers check the hits against the exact condition.
 */

/**
 * The largest message a background index (IMAP's text index, JMAP's search and thread indexes)
 * reads whole: reading and decoding a message whole costs several times its size in memory (a
 * 20 MB message grew the server by ~100-160 MB after its delivery). Above it an index reads
 * less (mailbox/folder-text-index: nothing; web/jmap/email-search: a prefix).
 */
export const maxMessageReadWhole = 8 * 1024 * 1024;

export interface MailSearchIndex {
  /** the ids indexed for an account */
  indexed(account: string): Promise<ReadonlySet<string>>;
  add(account: string, docs: readonly { readonly id: string; readonly text: string }[]): Promise<void>;
  remove(account: string, ids: readonly string[]): Promise<void>;
  /** the ids whose text may hold every one of `words` (a superset: strings too short to narrow are ignored) */
  search(account: string, words: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}
