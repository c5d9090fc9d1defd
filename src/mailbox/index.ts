/**
 * @module mailbox
 * Local mailbox storage read by POP3, IMAP and the web: the Maildir store (default) and the
 * PostgreSQL store (several nodes), each with its folders and per-folder UIDs, MODSEQs and keywords.
 * Standards: see maildir-store (maildir-name, maildir-line-ends, maildir-safe-dir), maildir-folders
 *   (maildir-folder-tree, maildir-folder-state), uid-index. Security: see maildir-store and
 * maildir-folders. Limitations: see each module.
 */
export { MaildirStore, mailboxParts, encodeUniqueKey, type MaildirStoreOptions } from './maildir-store.js';
export { MaildirFolders, type MaildirFoldersOptions } from './maildir-folders.js';
export type { MessageRead, MessagesGone } from './folder-text-index.js';
export { defaultFolders } from './maildir-folder-tree.js';
export { parseUidIndex, formatUidIndex, reconcile, vanishedSince, recordedUids, newUidValidity, uidListName, type UidIndex } from './uid-index.js';
export { FolderLock } from './folder-lock.js';
export { checkFolderName, isInbox } from './folder-name.js';
export { PgMailStore, type PgMailStoreOptions } from './pg-mail-store.js';
export { PgMailFolders } from './pg-mail-folders.js';
export { PgThreadIndex } from './pg-thread-index.js';
export { PgEmailAliases } from './pg-email-aliases.js';
export { PgMailNotifier } from './pg-mail-notifier.js';
export { mailSchema } from './pg-mail-schema.js';
export { importFolder, importSubscriptions, mailboxOwners, type FolderImport } from './pg-mail-import.js';
export { importMaildirFolder, type MaildirFolderImport } from './maildir-import.js';
export { MaildirSize, MAILDIRSIZE, parseMaildirSize, storedSizeOf } from './maildir-size.js';
export { MailboxQuota, type MailboxQuotaOptions } from './mailbox-quota.js';
export { SqliteSearchIndex, ftsQuery } from './sqlite-search-index.js';
export { SqliteThreadIndex } from './sqlite-thread-index.js';
export { SqliteEmailAliases } from './sqlite-email-aliases.js';
