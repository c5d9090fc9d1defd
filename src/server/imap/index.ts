/**
 * @module server/imap
 * The IMAP server: listeners, sessions, the selected-mailbox view and the hub between
 * sessions on one mailbox.
 * Standards: RFC 9051, RFC 3501, and the extensions each module names.
 * Security: see imap-session and imap-server. Limitations: see each module and docs/imap.md.
 */
export { ImapServer, type ImapServerOptions, type ImapListenOptions, type ImapBoundAddress } from './imap-server.js';
export type { ImapSessionContext } from './session-types.js';
export { FetchCache } from './fetch-cache.js';
export { FetchCacheDisk } from './fetch-cache-disk.js';
export { fillFetchCache } from './fetch-response.js';
