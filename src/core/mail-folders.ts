/**
 * @module mail-folders
 * The folder face of a user's mailbox for IMAP (and later JMAP): folders with their special
 * use, and each folder's messages numbered by UIDs that survive restarts and concurrent
 * delivery. Kept apart from MailboxStore (delivery and POP3 need none of it).
 * Every change to a folder (a message arriving, flags or keywords changing, a message going)
 * gets a MODSEQ, a number that only grows within one UIDVALIDITY: IMAP's CONDSTORE/QRESYNC
 * report it as is, and JMAP derives its state strings and changes from it (`changesSince`).
 * Standards: RFC 9051 §2.3.1.1 (UID, UIDVALIDITY, UIDNEXT: strictly ascending, never reused
 *   within one UIDVALIDITY), §2.3.2 (keywords); RFC 7162 §3.1 (MODSEQ per message,
 *   HIGHESTMODSEQ per folder, both persistent); RFC 6154 (SPECIAL-USE attributes).
 * Security: folder names come from clients: the backend checks them before they become paths.
 * Limitations: none.
 */
import type { Readable } from 'node:stream';
import type { EmailAliases } from './email-aliases.js';
import type { MailThreadIndex } from './mail-threads.js';

/** One message of a folder as of a sync. */
export interface FolderMessage {
  readonly uid: number;
  /** the MailboxStore key (stable while the message lives) */
  readonly key: string;
  /** Maildir info flags, ASCII order: D F P R S T */
  readonly flags: string;
  /** keywords (IMAP flag atoms without "\\", e.g. "$Forwarded"), case kept as first set */
  readonly keywords: readonly string[];
  /** the MODSEQ of the message's last change (arrival, flags, keywords) */
  readonly modseq: number;
  /** octets with CRLF line ends */
  readonly size: number;
  /** ms since the epoch (INTERNALDATE) */
  readonly receivedAt: number;
}

/**
 * A folder's messages in ascending UID order, as a snapshot holds them: walked by for-of,
 * counted by `length`, read by index with `at`, found by UID with `search` (findByUid). A
 * Maildir snapshot's is a chunked list (util/chunked-list) that the folder's next snapshot and
 * the sessions' views fork by chunk.
 */
export interface FolderMessageList extends Iterable<FolderMessage> {
  readonly length: number;
  /** the message at index `i` (0 ≤ i < length), else undefined */
  at(i: number): FolderMessage | undefined;
  /** binary search by `key`, which ascends over the list: the index of `target`, or -(insertion point) - 1 */
  search(key: (m: FolderMessage) => number, target: number): number;
}

const uidOf = (m: FolderMessage): number => m.uid;

/** The message with UID `uid` in `list` (a binary search, O(log n)), or undefined. */
export function findByUid(list: FolderMessageList, uid: number): FolderMessage | undefined {
  const i = list.search(uidOf, uid);
  return i >= 0 ? list.at(i) : undefined;
}

/** A folder's state after a sync: messages in ascending UID order. */
export interface FolderSnapshot {
  readonly uidValidity: number;
  readonly uidNext: number;
  /** the highest MODSEQ of the folder (a change of any message, or an expunge, raises it) */
  readonly highestModseq: number;
  /** the folder's messages: walk, count and find them here */
  readonly list: FolderMessageList;
  /** names this snapshot for syncDelta (a store that keeps deltas sets it) */
  readonly version?: number;
}

/** What changed from one snapshot to the folder's current one (MailFolderStore.syncDelta). */
export interface FolderDelta {
  readonly snapshot: FolderSnapshot;
  /** messages that came or whose flags, keywords or MODSEQ changed, as in `snapshot` */
  readonly changed: readonly FolderMessage[];
  /** UIDs gone since */
  readonly gone: readonly number[];
}

/**
 * A folder's expunge record, as `correio migrate` copies it: UIDs by the MODSEQ at which they
 * left; every UID below UIDNEXT neither in the folder nor recorded left at or below `floor`
 * (0: none did). RFC 7162 §3.2.10: VANISHED (EARLIER) must name every UID expunged since
 * the client's MODSEQ (and may name older ones).
 */
export interface ExpungeHistory {
  readonly floor: number;
  readonly records: readonly { readonly modseq: number; readonly uids: readonly UidRange[] }[];
}

/**
 * One message of `appendMany`: its octets (CRLF; whole, or as a stream: a big IMAP literal the
 * store writes as it arrives), flags letters, keywords and internal date.
 */
export interface AppendItem {
  readonly message: Buffer | Readable;
  readonly flags: string;
  readonly keywords?: readonly string[];
  readonly receivedAt?: number;
}

/** A range of UIDs, both ends included. */
export interface UidRange {
  readonly from: number;
  readonly to: number;
}

/** A change of flags and keywords: set them, add them, or remove them. */
export interface FlagChange {
  readonly mode: 'set' | 'add' | 'remove';
  /** Maildir letters (D F R S T); letters without such a meaning (P) survive "set" */
  readonly flags?: string;
  /** absent: the keywords stay as they are, also for "set" */
  readonly keywords?: readonly string[];
}

export interface FlagUpdateResult {
  readonly highestModseq: number;
  /** the messages this call changed, with their new flags, keywords and MODSEQ */
  readonly updated: readonly FolderMessage[];
  /** UIDs refused because their MODSEQ was above `unchangedSince` (RFC 7162 §3.1.3) */
  readonly modified: readonly number[];
  /** UIDs not (or no longer) in the folder */
  readonly missing: readonly number[];
}

/** What changed in a folder after a MODSEQ. */
export interface FolderChanges {
  readonly uidValidity: number;
  readonly highestModseq: number;
  /** messages whose MODSEQ is above the one asked for (new or changed), ascending UID */
  readonly changed: readonly FolderMessage[];
  /**
   * UIDs expunged after that MODSEQ; may also name UIDs expunged earlier when the store no
   * longer knows exactly (never one still in the folder)
   */
  readonly vanished: readonly UidRange[];
}

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive';

export interface FolderEntry {
  /** "INBOX" or the folder name, levels separated by `delimiter` */
  readonly name: string;
  readonly specialUse?: SpecialUse;
}

/** A store's rule for octets it keeps exactly (MailFolderStore.exactOctets). */
export interface ExactOctets {
  check(): (piece: Buffer) => boolean;
  readonly why: string;
}

export interface MailFolderStore {
  /** the hierarchy delimiter of folder names */
  readonly delimiter: string;
  /** Creates the usual folders (Sent, Drafts, Trash, Junk, Archive) when missing. */
  ensureDefaultFolders(user: string): Promise<void>;
  listFolders(user: string): Promise<FolderEntry[]>;
  folderExists(user: string, folder: string): Promise<boolean>;
  /**
   * folderExists's answer without a promise when the store has it at hand (optional; Maildir: the
   * folder's directories checked in this turn or still the ones checked before); undefined when
   * only folderExists can tell. Throws as folderExists for a bad name. For an APPEND's TRYCREATE.
   */
  folderExistsNow?(user: string, folder: string): true | undefined;
  /**
   * Makes a folder; with `specialUse` (RFC 6154 CREATE-SPECIAL-USE, only where
   * `canCreateSpecialUse`) it is listed with that attribute from then on.
   */
  createFolder(user: string, folder: string, opts?: { specialUse?: SpecialUse }): Promise<void>;
  /** whether createFolder keeps a special use */
  readonly canCreateSpecialUse?: boolean;
  /**
   * Which octets the store gives back exactly as appended (RFC 3516 §4.4: an APPEND of binary
   * content the store would alter is refused with UNKNOWN-CTE). `check()` makes a function fed
   * one message's octets piece by piece, in order: false from the first piece holding an octet
   * that would come back otherwise (and from then on). `why`: the sentence a refusal gives.
   * Absent: every octet is kept.
   */
  readonly exactOctets?: ExactOctets;
  deleteFolder(user: string, folder: string): Promise<void>;
  renameFolder(user: string, from: string, to: string): Promise<void>;
  listSubscriptions(user: string): Promise<string[]>;
  setSubscribed(user: string, folder: string, on: boolean): Promise<void>;
  /**
   * Takes in what arrived since the last sync (new/ → cur/), gives new messages the next UIDs
   * and forgets removed ones; the snapshot of the whole folder.
   */
  sync(user: string, folder: string): Promise<FolderSnapshot>;
  /**
   * `sync`, told as the changes from the snapshot named `version` (O(changes) for a session
   * that already holds that snapshot's messages); undefined when the store no longer knows
   * them (the caller compares whole snapshots).
   */
  syncDelta?(user: string, folder: string, version: number): Promise<FolderDelta | undefined>;
  /** The changes after `sinceModseq` (takes in what arrived first, as `sync`). */
  changesSince(user: string, folder: string, sinceModseq: number): Promise<FolderChanges>;
  /**
   * Changes flags and keywords of the messages `uids` at once, under the folder's lock: each
   * message changed gets the same new MODSEQ. With `unchangedSince`, a message whose MODSEQ
   * is above it is left alone and listed in `modified`.
   */
  updateFlags(user: string, folder: string, uids: readonly number[], change: FlagChange, opts?: { unchangedSince?: number }): Promise<FlagUpdateResult>;
  /**
   * Stores a message (CRLF, as a stream or whole: a store may keep what it makes from the whole
   * octets, e.g. its text index) with flags, keywords and an internal date; its UID once assigned.
   */
  append(
    user: string,
    folder: string,
    message: Readable | Buffer,
    opts: { flags: string; keywords?: readonly string[]; receivedAt?: number },
  ): Promise<{ uid: number; uidValidity: number }>;
  /**
   * Optional: several messages at once, all or none even across a crash (RFC 3502
   * MULTIAPPEND); their UIDs in the same order. Without it, MULTIAPPEND appends one by one
   * and removes what it stored when a later one fails (a crash may leave the first ones).
   * Given as they come (an async iterable: IMAP streams each literal as it arrives), each is
   * read to its end before the next is asked for; an error thrown by the iterable undoes all.
   */
  appendMany?(user: string, folder: string, messages: readonly AppendItem[] | AsyncIterable<AppendItem>): Promise<{ uids: number[]; uidValidity: number }>;
  /** Copies messages (with their flags and keywords) to another folder; their new UIDs in the same order. */
  copy(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[] }>;
  /**
   * Optional: moves messages to another folder so that a crash at any moment leaves each in
   * exactly one of the two (RFC 6851 MOVE). `moved` names the keys moved (those still in
   * `from`), `uids` their new UIDs in the same order. Without it, MOVE copies and removes.
   */
  move?(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[]; moved: string[] }>;
  /**
   * Optional (IMAP4rev1 \Recent, RFC 3501 §2.3.2): the lowest UID that is recent to the caller
   * — every message from it up is; with `claim`, they become the caller's alone (the next
   * caller gets UIDNEXT at the earliest). Without it no message is recent.
   */
  recentFrom?(user: string, folder: string, claim: boolean): Promise<number>;
  remove(user: string, folder: string, key: string): Promise<void>;
  /**
   * The message's octets (CRLF line ends); `chunk`: read it this many octets at a time (a hint a
   * reader of its start alone gives: IMAP's header reads).
   */
  open(user: string, folder: string, key: string, opts?: { readonly chunk?: number }): Promise<Readable>;
  /**
   * Optional, for a backend with a full-text index: the UIDs of the folder's messages that may
   * hold `needle` (case-insensitive) in their header or text parts — a superset of those that
   * do, never missing one — or undefined when the index cannot narrow this needle down. The
   * caller still matches each candidate (IMAP SEARCH BODY/TEXT are substring matches).
   */
  textCandidates?(user: string, folder: string, needle: string): Promise<ReadonlySet<number> | undefined>;
  /**
   * Optional, for a backend with a shared text index (PostgreSQL): the keys, by folder name,
   * of the user's messages that may hold every needle — each run of letters and digits of
   * three characters or more anywhere, NFKC, case folded (search-words), as the node-local
   * trigram index — JMAP text conditions look here instead of a node's own index. undefined
   * when no run can narrow. The caller still matches each candidate exactly.
   */
  wordCandidates?(user: string, needles: readonly string[]): Promise<ReadonlyMap<string, ReadonlySet<string>> | undefined>;
  /**
   * Optional, for a backend shared by several nodes (PostgreSQL): the JMAP conversation index
   * and Email id aliases kept with the mailboxes, so every node answers the same Thread and
   * Email ids; without it the web keeps its own in the node's data directory.
   */
  readonly jmapIndexes?: { readonly threads: MailThreadIndex; readonly emailIds: EmailAliases };
  /** Optional (correio migrate): the folder's expunge record, for the target to answer VANISHED as the source would. */
  expungeHistory?(user: string, folder: string): Promise<ExpungeHistory>;
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
