/**
 * @module folder-name
 * The rules for a folder name a client gives (IMAP CREATE/SELECT/RENAME, JMAP Mailbox/set),
 * shared by every MailFolderStore backend: INBOX in any case is the inbox, other names are
 * levels joined by ".", each level non-empty.
 * Standards: RFC 9051 §5.1 (mailbox naming; INBOX is case-insensitive), §6.3.9 (the "%" and
 *   "*" wildcards, refused in names).
 * Security: names become paths (Maildir) or keys (PostgreSQL): no "/", "\", NUL, control
 *   characters, wildcards, empty levels or leading dot; at most 200 characters.
 * Limitations: the hierarchy delimiter is "." for every backend.
 */
import { MailFolderError } from '../core/index.js';

export function isInbox(folder: string): boolean {
  return folder.toUpperCase() === 'INBOX';
}

/** Checks a client's folder name; INBOX (any case) is "". Throws MailFolderError 'bad-name'. */
export function checkFolderName(folder: string): string {
  if (isInbox(folder)) return '';
  if (folder.length === 0 || folder.length > 200) throw new MailFolderError('bad-name', 'empty or too long folder name');
  if (/[%*\x00-\x1f\x7f/\\]/.test(folder)) throw new MailFolderError('bad-name', 'forbidden character in folder name');
  if (folder.startsWith('.') || folder.endsWith('.') || folder.includes('..')) throw new MailFolderError('bad-name', 'empty level in folder name');
  if (folder.split('.').some(isInbox)) throw new MailFolderError('bad-name', 'INBOX cannot be a level of another folder');
  return folder;
}
