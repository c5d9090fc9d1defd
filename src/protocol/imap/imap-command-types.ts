/**
 * @module imap-command-types
 * The parsed shape of one IMAP command (what parseImapCommand gives): the command name and its
 * typed arguments, and the parse's result.
 * Standards: RFC 9051 §6 (commands); RFC 5258 and RFC 5819 (LIST return options); RFC 7162
 *   §3.2.5 (QRESYNC parameters); RFC 3502 (MULTIAPPEND); RFC 6855 §4 (APPEND's UTF8 data);
 *   RFC 4469 §5 (CATENATE parts); RFC 9208 §4 (QUOTA).
 * Security: none (types). Limitations: none.
 */
import type { FetchItem } from './fetch-items.js';
import type { PartialRange, SearchReturn } from './search-return.js';
import type { SearchKey } from './search-key.js';
import type { SequenceSet } from './sequence-set.js';
import type { SortCriterion, ThreadAlgorithm } from './sort-order.js';

export type StatusItem = 'MESSAGES' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'DELETED' | 'SIZE' | 'RECENT' | 'HIGHESTMODSEQ' | 'APPENDLIMIT' | 'DELETED-STORAGE';

export type { SearchReturn, PartialRange } from './search-return.js';

/** RFC 5258 §3.2 and RFC 5819: LIST return options. */
export interface ListReturn {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** STATUS items of LIST-STATUS */
  readonly status?: readonly StatusItem[];
}

/** RFC 7162 §3.2.5: what a client knew of a mailbox (SELECT ... (QRESYNC (...))). */
export interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: number;
  readonly knownUids?: SequenceSet;
  /** known sequence numbers and their UIDs: a hint the server may use */
  readonly seqMatch?: { readonly seqs: SequenceSet; readonly uids: SequenceSet };
}

/** One message of an APPEND (RFC 3502: several in one command). */
export interface AppendMessage {
  readonly flags: readonly string[];
  readonly date?: number;
  /** empty with `catenate` */
  readonly message: Buffer;
  /** RFC 6855 §4: sent as "UTF8 (literal8)" */
  readonly utf8?: boolean;
  /** RFC 3516 §4.4: sent as a literal8 ("~{n}"), not as UTF8 data: binary content, to be kept exactly */
  readonly binary?: boolean;
  /** RFC 4469 §5: the message made of these parts, in order */
  readonly catenate?: readonly CatPart[];
}

/** RFC 4469 §5 cat-part: text sent in the command, or an IMAP URL of a message or part. */
export type CatPart = { readonly text: Buffer; readonly binary?: boolean } | { readonly url: string };

export type ImapCommand =
  | { readonly name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'EXPUNGE' | 'IDLE' | 'NAMESPACE' }
  | { readonly name: 'LOGIN'; readonly user: string; readonly password: string }
  | { readonly name: 'AUTHENTICATE'; readonly mechanism: string; readonly initial?: string }
  | { readonly name: 'ENABLE'; readonly capabilities: readonly string[] }
  | { readonly name: 'COMPRESS'; readonly mechanism: string }
  | { readonly name: 'ID'; readonly params: readonly (readonly [string, string | null])[] | null }
  | { readonly name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; readonly mailbox: Buffer }
  | { readonly name: 'CREATE'; readonly mailbox: Buffer; readonly use?: readonly string[] }
  | { readonly name: 'SELECT' | 'EXAMINE'; readonly mailbox: Buffer; readonly condstore?: boolean; readonly qresync?: QresyncParams }
  | { readonly name: 'RENAME'; readonly from: Buffer; readonly to: Buffer }
  | {
      readonly name: 'LIST' | 'LSUB';
      readonly reference: Buffer;
      readonly patterns: readonly Buffer[];
      /** RFC 5258 §3.1 selection options: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE */
      readonly selection: readonly string[];
      readonly returns: ListReturn;
    }
  | { readonly name: 'STATUS'; readonly mailbox: Buffer; readonly items: readonly StatusItem[] }
  | { readonly name: 'APPEND'; readonly mailbox: Buffer; readonly messages: readonly AppendMessage[] }
  | { readonly name: 'SEARCH'; readonly uid: boolean; readonly returns?: readonly SearchReturn[]; readonly partial?: PartialRange; readonly charset?: string; readonly key: SearchKey }
  | {
      readonly name: 'FETCH';
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly items: readonly FetchItem[];
      readonly partial?: PartialRange;
      /** RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED */
      readonly changedSince?: number;
      readonly vanished?: boolean;
    }
  | {
      readonly name: 'STORE';
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly mode: 'set' | 'add' | 'remove';
      readonly silent: boolean;
      readonly flags: readonly string[];
      /** RFC 7162 §3.1.3 */
      readonly unchangedSince?: number;
    }
  | { readonly name: 'COPY' | 'MOVE'; readonly uid: boolean; readonly set: SequenceSet; readonly mailbox: Buffer }
  | { readonly name: 'UID EXPUNGE'; readonly set: SequenceSet }
  | { readonly name: 'SORT'; readonly uid: boolean; readonly returns?: readonly SearchReturn[]; readonly partial?: PartialRange; readonly criteria: readonly SortCriterion[]; readonly charset: string; readonly key: SearchKey }
  | { readonly name: 'THREAD'; readonly uid: boolean; readonly algorithm: ThreadAlgorithm; readonly charset: string; readonly key: SearchKey }
  // RFC 9208 §4.1-§4.3 (QUOTA)
  | { readonly name: 'GETQUOTA'; readonly root: Buffer }
  | { readonly name: 'GETQUOTAROOT'; readonly mailbox: Buffer }
  | { readonly name: 'SETQUOTA'; readonly root: Buffer; readonly limits: readonly (readonly [string, number])[] };

export type ParsedCommand =
  | { readonly ok: true; readonly tag: string; readonly command: ImapCommand }
  | { readonly ok: false; readonly tag?: string; readonly reason: string; readonly unknown?: boolean };
