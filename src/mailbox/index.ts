/**
 * @module mailbox
 * Local mailbox storage: the Maildir store read by POP3, IMAP and the web, its folders and
 * per-folder UIDs, MODSEQs and keywords.
 * Standards: see maildir-store, maildir-folders, uid-index. Security: see maildir-store and
 * maildir-folders. Limitations: see each module.
 */
export { MaildirStore, mailboxParts, encodeUniqueKey, type MaildirStoreOptions } from './maildir-store.js';
export { MaildirFolders, defaultFolders, type MaildirFoldersOptions } from './maildir-folders.js';
export { parseUidIndex, formatUidIndex, reconcile, vanishedSince, newUidValidity, uidListName, type UidIndex } from './uid-index.js';
export { FolderLock } from './folder-lock.js';
