/**
 * @module directory
 * Domains, users, credentials, aliases, lists and roles: the SQLite and PostgreSQL backends, password hashing,
 * address rules, and the aliases(5) file format.
 * Standards: see each module. Security: see each module. Limitations: see each module.
 */
export { SqliteDirectory, type SqliteDirectoryOptions } from './sqlite-directory.js';
export { PgDirectory, type PgDirectoryOptions } from './pg-directory.js';
export { directorySchema } from './pg-directory-schema.js';
export { openDirectory, openDirectorySnapshot, type DirectorySnapshot, directoryFile, openTokenStore, tokenFile, openSessionStore } from './open-directory.js';
export { SqliteTokenStore, type TokenRow } from './sqlite-token-store.js';
export { PgTokenStore } from './pg-token-store.js';
export { SqliteSessionStore } from './sqlite-session-store.js';
export { PgSessionStore } from './pg-session-store.js';
export { PgDkimKeys, type DkimKeyRow } from './pg-dkim-keys.js';
export { findPgSharedSecret, pgSharedSecret } from './pg-shared-secret.js';
export { pgStoreRunner, type PgStoreRun } from './pg-small-store.js';
export type { DirectoryBackend, DirectoryMatch, DirectoryMatchKind } from './directory-backend.js';
export {
  DirectoryInputError,
  directoryKey,
  normalizeAliasName,
  normalizeDirectoryAddress,
  normalizeDirectoryDomain,
} from './directory-address.js';
export { dumpCounts, quotaColumns, type DirectoryDump } from './directory-rows.js';
export { hashPassword, verifyPassword, parsePasswordHash, defaultScryptParams, type ScryptParams } from './password.js';
export * from './aliases-file.js';
export { openSmallStore, runStore } from '../util/sqlite-small-store.js';
