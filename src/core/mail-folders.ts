/**
 * @module mail-folders
 * The folder face of a user's mailbox for IMAP (and later JMAP): folders with their special
 * use, and each folder's messages numbered by UIDs that survive restarts and concurrent
 * delivery. Kept apart from MailboxStore (delivery and POP3 need none of it).
 * Standards: RFC 9051 §2.3.1.1 (UID, UIDVALIDITY, UIDNEXT: strictly ascending, never reused
 *   within one UIDVALIDITY), RFC 6154 (SPECIAL-USE attributes).
 * Security: folder names come from clients: the backend checks them before they become paths.
 * Limitations: no keywords (only the system flags a Maildir info suffix can hold).
 */
import type { Readable } from 'node:stream';

/** One message of a folder as of a sync. */
export interface FolderMessage {
  readonly uid: number;
  /** the MailboxStore key (stable while the message lives) */
  readonly key: string;
  /** Maildir info flags, ASCII order: D F P R S T */
  readonly flags: string;
  /** octets with CRLF line ends */
  readonly size: number;
  /** ms since the epoch (INTERNALDATE) */
  readonly receivedAt: number;
}

/** A folder's state after a sync: messages in ascending UID order. */
export interface FolderSnapshot {
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly messages: readonly FolderMessage[];
}

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive';

export interface FolderEntry {
  /** "INBOX" or the folder name, levels separated by `delimiter` */
  readonly name: string;
  readonly specialUse?: SpecialUse;
}

export interface MailFolderStore {
  /** the hierarchy delimiter of folder names */
  readonly delimiter: string;
  /** Creates the usual folders (Sent, Drafts, Trash, Junk, Archive) when missing. */
  ensureDefaultFolders(user: string): Promise<void>;
  listFolders(user: string): Promise<FolderEntry[]>;
  folderExists(user: string, folder: string): Promise<boolean>;
  createFolder(user: string, folder: string): Promise<void>;
  deleteFolder(user: string, folder: string): Promise<void>;
  renameFolder(user: string, from: string, to: string): Promise<void>;
  listSubscriptions(user: string): Promise<string[]>;
  setSubscribed(user: string, folder: string, on: boolean): Promise<void>;
  /**
   * Takes in what arrived since the last sync (new/ → cur/), gives new messages the next UIDs
   * and forgets removed ones; the snapshot of the whole folder.
   */
  sync(user: string, folder: string): Promise<FolderSnapshot>;
  /** Stores a message (CRLF) with flags and an internal date; its UID once assigned. */
  append(user: string, folder: string, message: Readable, opts: { flags: string; receivedAt?: number }): Promise<{ uid: number; uidValidity: number }>;
  /** Copies messages to another folder; their new UIDs in the same order. */
  copy(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[] }>;
  setFlags(user: string, folder: string, key: string, flags: string): Promise<void>;
  remove(user: string, folder: string, key: string): Promise<void>;
  open(user: string, folder: string, key: string): Promise<Readable>;
  /** Calls `onChange` (coalesced) when the folder may have changed; returns the stop function. */
  watch(user: string, folder: string, onChange: () => void): () => void;
}

/** Why a folder operation was refused (IMAP maps these to response codes, RFC 5530). */
export type MailFolderErrorKind = 'exists' | 'nonexistent' | 'bad-name' | 'cannot';

export class MailFolderError extends Error {
  constructor(
    readonly kind: MailFolderErrorKind,
    message: string,
  ) {
    super(message);
  }
}
