/**
 * @module directory-backend
 * What every directory backend (SQLite, PostgreSQL) is: core's Directory, both faces
 * (DirectoryLookup for delivery, DirectoryAdmin for the operator) and close().
 * test/contract/directory-lookup.contract.ts and directory-admin.contract.ts check them.
 * Standards: seed §2 (a directory with a query interface).
 * Security: find() never returns password hashes.
 * Limitations: none.
 */
import type { Directory } from '../core/index.js';

export type { DirectoryMatch, DirectoryMatchKind } from '../core/index.js';

/** A directory backend: the name the app and the CLI use for core's whole Directory. */
export type DirectoryBackend = Directory;
