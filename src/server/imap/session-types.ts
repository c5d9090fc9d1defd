/**
 * @module session-types
 * What the command handlers of an IMAP session share: the server's context, the session's
 * output, and the tagged result a handler returns (only the session writes to the socket).
 * Standards: RFC 9051 §7.1 (OK, NO, BAD with response codes, RFC 5530).
 * Security: none. Limitations: none.
 */
import type tls from 'node:tls';
import type { MailFolderStore, QuotaGate } from '../../core/index.js';
import type { AuthThrottle } from '../../policy/auth-throttle.js';
import type { MailboxHub } from './mailbox-hub.js';
import type { FetchCache } from './fetch-cache.js';
import type { MessageReader } from './message-reader.js';
import type { SelectedMailbox, SyncModes } from './selected-mailbox.js';

/** Whether the session speaks UTF-8 mailbox names (IMAP4rev2 or UTF8=ACCEPT enabled). */
export interface NameMode {
  readonly rev2: boolean;
  readonly utf8: boolean;
}

export interface ImapSessionContext {
  readonly hostname: string;
  readonly folders: MailFolderStore;
  readonly authenticate: (user: string, password: string) => Promise<boolean>;
  readonly secureContext?: tls.SecureContext;
  readonly plaintextAuth: 'never' | 'loopback' | 'always';
  readonly idleTimeoutMs: number;
  readonly loginTimeoutMs: number;
  readonly authFailureDelayMs: number;
  readonly maxAuthFailures: number;
  readonly authThrottle: AuthThrottle;
  readonly appendLimit: number;
  readonly idlePollMs: number;
  readonly hub: MailboxHub;
  /** encoded ENVELOPE/BODYSTRUCTURE/BODY of fetched messages, shared by the sessions */
  readonly fetchCache?: FetchCache;
  /** mailbox quotas (RFC 9208): QUOTA commands and OVERQUOTA; absent: not advertised */
  readonly quota?: QuotaGate;
  /** messages from this size on are streamed for RFC822/BODY[]/BINARY[] (default fetch-stream's streamFromDefault; tests set 0) */
  readonly fetchStreamFrom?: number;
  /** APPEND literals (and CATENATE URLs' messages) from this size on are streamed to the store (default appendStreamFromDefault; tests set 1) */
  readonly appendStreamFrom?: number;
}

/** The tagged completion of a command. */
export interface TaggedResult {
  readonly status: 'OK' | 'NO' | 'BAD';
  /** a response code without brackets, e.g. "TRYCREATE" or "APPENDUID 1 5" */
  readonly code?: string;
  readonly text: string;
}

export const ok = (text: string, code?: string): TaggedResult => ({ status: 'OK', text, ...(code !== undefined && { code }) });
export const no = (text: string, code?: string): TaggedResult => ({ status: 'NO', text, ...(code !== undefined && { code }) });
export const bad = (text: string, code?: string): TaggedResult => ({ status: 'BAD', text, ...(code !== undefined && { code }) });

/**
 * The session as the handlers see it; `condstore`/`qresync`: enabled (RFC 7162); `rev2`:
 * ENABLE IMAP4rev2 given (RFC 9051 §6.3.1); `utf8`: ENABLE UTF8=ACCEPT given (RFC 6855).
 */
export interface SessionIo extends SyncModes, NameMode {
  readonly ctx: ImapSessionContext;
  /** the authenticated user */
  readonly user: string;
  selected: SelectedMailbox | undefined;
  readonly reader: MessageReader;
  /** queues an untagged line ("* " and CRLF added) */
  untagged(line: string): void;
  /** writes a whole response (untagged data with literals), waiting while the client reads */
  write(data: Buffer): Promise<boolean>;
  /** leaves the selected state (hub and watch released) */
  deselect(): void;
  /** selects a mailbox (hub joined) */
  select(m: SelectedMailbox): void;
  /**
   * RFC 7162 §3.1: a CONDSTORE-enabling command turns CONDSTORE on; with a mailbox selected,
   * its HIGHESTMODSEQ is sent then
   */
  enableCondstore(): void;
}

/** APPEND literals from this size on are streamed to the store (below it, read whole: the store writes a small message in one call); CATENATE reads a URL's message of this size from its file as the store writes. */
export const appendStreamFromDefault = 1024 * 1024;
