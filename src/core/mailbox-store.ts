/**
 * @module mailbox-store
 * Final storage for local users (Maildir by default), read by POP3, IMAP and the web.
 * Standards: the Maildir format (tmp → new → cur, unique names, info ":2,FLAGS").
 * Security: a mailbox name is a directory-checked user address, never a raw path.
 * Limitations: none.
 */
import type { Readable } from 'node:stream';
import type { QuotaLimit, QuotaUsage } from './quota.js';

export interface MailboxMessage {
  /** stable unique id (Maildir base name without flags) */
  readonly key: string;
  /** size in octets with CRLF line ends (what POP3/IMAP report) */
  readonly size: number;
  readonly flags: string;
  /** ms since epoch of arrival */
  readonly receivedAt: number;
  /** folder, "" for INBOX */
  readonly folder: string;
}

export interface MailboxStore {
  /**
   * Stores a message durably for a user. `uniqueKey` makes redelivery idempotent: delivering the
   * same key twice stores it once. The message, a stream or whole in one Buffer (the local
   * transport's small messages), has CRLF line ends. `freshKey`: no earlier delivery of the key
   * can exist (DeliveryRequest.neverTried, or a key just made), so a store may skip its look for
   * one and store it by a step that would not notice one (Maildir: rename() into new/, which
   * replaces a file of that name, where link() refuses it): a caller's claim must hold.
   */
  deliver(user: string, message: Readable | Buffer, opts: { uniqueKey: string; folder?: string; freshKey?: boolean }): Promise<{ key: string }>;
  list(user: string, folder?: string): Promise<MailboxMessage[]>;
  /** opens a message with CRLF line ends; `chunk`: read it this many octets at a time (a hint) */
  open(user: string, key: string, folder?: string, opts?: { readonly chunk?: number }): Promise<Readable>;
  setFlags(user: string, key: string, flags: string, folder?: string): Promise<void>;
  remove(user: string, key: string, folder?: string): Promise<void>;
  /**
   * what the user's mailbox holds, all folders together (for quotas; `limit` is recorded beside
   * it where the format has a place for it); a store without it has no quotas
   */
  usage?(user: string, limit?: QuotaLimit): Promise<QuotaUsage>;
}
