/**
 * @module email-aliases
 * Which Email id a message carries where the folder store placed it anew: a JMAP Email's id
 * is made of its folder, UIDVALIDITY and UID, and a move gives it a new UID elsewhere, but RFC
 * 8621 §4.1.1 has the id immutable; a move is recorded as "this new place is that Email", so the
 * Email keeps its id across mailboxes (and restarts): a JMAP move as it moves, a move by IMAP or
 * another program that kept the message's store key when JMAP next looks (web/jmap mail-view).
 * Standards: RFC 8621 §4.1.1 (id: immutable), RFC 8620 §1.2 (ids).
 * Security: an account's aliases are only read for that account.
 * Limitations: none (what finds a move is mail-view's).
 */

export interface EmailAliases {
  /** place id (the id the message would have from its folder and UID) → the Email id it carries */
  aliases(account: string): Promise<Map<string, string>>;
  /** Records that each place id carries that Email id. */
  add(account: string, pairs: readonly (readonly [place: string, id: string])[]): Promise<void>;
  close(): Promise<void>;
}
