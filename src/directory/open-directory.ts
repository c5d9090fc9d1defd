/**
 * @module open-directory
 * Opens the directory a Config names: SQLite at `<data_dir>/directory.sqlite` for the embedded
 * storage ("file:"). The app and every CLI command open it the same way.
 * Standards: none.
 * Security: see sqlite-directory.
 * Limitations: a "postgres://" storage url is refused until the PostgreSQL backend exists.
 */
import { join } from 'node:path';
import { ConfigError, type Config } from '../config/index.js';
import type { DirectoryBackend } from './directory-backend.js';
import { SqliteDirectory } from './sqlite-directory.js';

/** Where the SQLite directory of this configuration lives. */
export function directoryFile(config: Config): string {
  return join(config.dataDir, 'directory.sqlite');
}

/** Opens the configured directory, ensuring local domains and postmaster (see SqliteDirectory.open). */
export async function openDirectory(config: Config): Promise<DirectoryBackend> {
  if (!config.storage.url.startsWith('file:')) {
    throw new ConfigError(config.file ?? '(defaults)', 'invalid', [
      `${config.file ?? '(defaults)'}: storage.url: the PostgreSQL directory is not available yet; use "file:"`,
    ]);
  }
  return SqliteDirectory.open(directoryFile(config), { localDomains: config.localDomains });
}
