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
import { PgSessionStore } from './pg-session-store.js';
import { PgTokenStore } from './pg-token-store.js';
import type { TokenStore, WebSessionStore } from '../core/index.js';

/** Where the SQLite directory of this configuration lives. */
export function directoryFile(config: Config): string {
  return join(config.dataDir, 'directory.sqlite');
}

/**
 * Opens the configured directory, ensuring local domains and postmaster (see SqliteDirectory.open).
 * `serving`: a long-lived server's, which on PostgreSQL keeps the local domains in memory
 * (pg-domain-cache.ts, its LISTEN session to `[storage] listen_url` when set).
 */
export async function openDirectory(config: Config, opts: { serving?: boolean } = {}): Promise<DirectoryBackend> {
  if (isPostgresUrl(config.storage.url)) {
    return PgDirectory.open(config.storage.url, { localDomains: config.localDomains, cacheDomains: opts.serving === true, listenUrl: config.storage.listenUrl });
  }
  return SqliteDirectory.open(directoryFile(config), { localDomains: config.localDomains });
}

/** A private copy of the directory for `correio check`, and what opening it found. */
export interface DirectorySnapshot {
  readonly directory: DirectoryBackend;
  /** problems of the stored directory itself (a PostgreSQL schema behind or ahead of this correio) */
  readonly notes: readonly { readonly level: 'error' | 'warning'; readonly message: string }[];
}

/**
 * The configured directory as `openDirectory` would give it, without writing anything. SQLite
 * is read into a private in-memory copy. PostgreSQL is read through read-only sessions, never
 * migrated: at this correio's schema version its entries are copied into an in-memory SQLite
 * directory (with the local domains and postmaster that serve would add); behind or ahead,
 * the snapshot is empty and a note says so (serve migrates a schema that is behind at start).
 */
export async function openDirectorySnapshot(config: Config): Promise<DirectorySnapshot> {
  const opts = { localDomains: config.localDomains };
  if (!isPostgresUrl(config.storage.url)) return { directory: await SqliteDirectory.snapshot(directoryFile(config), opts), notes: [] };
  const pg = PgDirectory.openReadOnly(config.storage.url);
  try {
    const state = await pg.schemaState();
    const copy = await SqliteDirectory.open(':memory:', opts);
    if (state.current < state.latest) {
      const what = state.current === 0 ? 'has no correio directory schema yet' : `has the directory schema at version ${state.current}`;
      const message =
        `storage.url: the PostgreSQL database ${what}, this correio expects ${state.latest}: correio serve migrates it at its next start ` +
        '(nodes still running an older correio may then fail); correio db migrate does it now. check changed nothing and did not check the directory\'s entries';
      return { directory: copy, notes: [{ level: 'warning', message }] };
    }
    if (state.current > state.latest) {
      const message = `storage.url: the PostgreSQL directory schema is at version ${state.current}, newer than this correio (${state.latest}): serve refuses to start; upgrade correio on this node`;
      return { directory: copy, notes: [{ level: 'error', message }] };
    }
    await copy.importDump(await pg.exportDump());
    const notes = (await pg.checkIntegrity()).map((p) => ({ level: 'error' as const, message: `directory: ${p}` }));
    return { directory: copy, notes };
  } finally {
    await pg.close();
  }
}

/** Where the API tokens of this configuration live (beside the directory). */
export function tokenFile(config: Config): string {
  return join(config.dataDir, 'tokens.sqlite');
}

/**
 * Opens the configured API token store (web/http-auth.ts, `correio token`): in PostgreSQL
 * beside the directory for a postgres storage url (shared by every node), else tokens.sqlite.
 */
export function openTokenStore(config: Config): TokenStore {
  if (isPostgresUrl(config.storage.url)) return PgTokenStore.open(config.storage.url);
  return SqliteTokenStore.open(tokenFile(config));
}

/**
 * Opens the browser session store (web/http-auth.ts): in PostgreSQL beside the directory for a
 * postgres storage url (shared by every node), else `<data_dir>/sessions.sqlite`.
 */
export function openSessionStore(config: Config): WebSessionStore {
  if (isPostgresUrl(config.storage.url)) return PgSessionStore.open(config.storage.url);
  return SqliteSessionStore.open(join(config.dataDir, 'sessions.sqlite'));
}
