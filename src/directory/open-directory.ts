/**
 * @module open-directory
 * Opens the directory a Config names: SQLite at `<data_dir>/directory.sqlite` for the embedded
 * storage ("file:"), PostgreSQL for `[storage] url = "postgres://…"` (several nodes). The app
 * and every CLI command open it the same way.
 * Standards: none.
 * Security: see sqlite-directory.
 * Limitations: none.
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { DirectoryBackend } from './directory-backend.js';
import { SqliteDirectory } from './sqlite-directory.js';
import { PgDirectory } from './pg-directory.js';
import { isPostgresUrl } from '../util/pg-database.js';
import { SqliteTokenStore } from './sqlite-token-store.js';
import { SqliteSessionStore } from './sqlite-session-store.js';

/** Where the SQLite directory of this configuration lives. */
export function directoryFile(config: Config): string {
  return join(config.dataDir, 'directory.sqlite');
}

/** Opens the configured directory, ensuring local domains and postmaster (see SqliteDirectory.open). */
export async function openDirectory(config: Config): Promise<DirectoryBackend> {
  if (isPostgresUrl(config.storage.url)) return PgDirectory.open(config.storage.url, { localDomains: config.localDomains });
  return SqliteDirectory.open(directoryFile(config), { localDomains: config.localDomains });
}

/**
 * The configured directory as `openDirectory` would give it, without writing anything: SQLite is
 * read into a private in-memory copy (`correio check`). PostgreSQL is opened as usual (its
 * schema is migrated if it is behind).
 */
export async function openDirectorySnapshot(config: Config): Promise<DirectoryBackend> {
  if (isPostgresUrl(config.storage.url)) return openDirectory(config);
  return SqliteDirectory.snapshot(directoryFile(config), { localDomains: config.localDomains });
}

/** Where the API tokens of this configuration live (beside the directory). */
export function tokenFile(config: Config): string {
  return join(config.dataDir, 'tokens.sqlite');
}

/** Opens the configured API token store (web/http-auth.ts, `correio token`). */
export function openTokenStore(config: Config): SqliteTokenStore {
  return SqliteTokenStore.open(tokenFile(config));
}

/** Opens the browser session store at `<data_dir>/sessions.sqlite` (web/http-auth.ts). */
export function openSessionStore(config: Config): SqliteSessionStore {
  return SqliteSessionStore.open(join(config.dataDir, 'sessions.sqlite'));
}
