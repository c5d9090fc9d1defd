/**
 * @module mailbox
 * Local mailbox storage: the Maildir store read by POP3, IMAP and the web.
 * Standards: see maildir-store. Security: see maildir-store. Limitations: see maildir-store.
 */
export { MaildirStore, mailboxParts, encodeUniqueKey, type MaildirStoreOptions } from './maildir-store.js';
