/**
 * @module sqlite-directory
 * The directory on SQLite (better-sqlite3) at `<data_dir>/directory.sqlite`: domains, users with
 * scrypt password hashes, aliases, lists with members, roles. WAL mode, so the CLI can change
 * the directory while the server reads it; changes are visible at once (a role's new holder
 * gets the next message). This file opens it and is its admin face (DirectoryAdmin: listings,
 * changes, search, dump, check); the lookups delivery makes are sqlite-directory-lookup.ts's
 * SqliteDirectoryLookup, which it extends.
 * Standards: seed §2 (directory independent of hosts, role addresses); RFC 5321 §2.4 (see
 *   directory-address for case rules).
 * Security: bound parameters only; password hashes never leave except through verifyPassword.
 *   Every SQLite failure (SQLITE_BUSY, a corrupt file, a closed handle) is thrown as MailError
 *   451 4.3.0, never answered as "not found" (DESIGN.md §1: lookups have three outcomes).
 * Limitations: one file, one host; the PostgreSQL backend is for several nodes.
 */
import type Database from 'better-sqlite3';
import type { Alias, MailingList, Role, User, UserQuotaChange } from '../core/index.js';
import type { DirectoryBackend, DirectoryMatch } from './directory-backend.js';
import { DirectoryInputError, directoryKey, normalizeAliasName, normalizeDirectoryAddress, normalizeDirectoryDomain } from './directory-address.js';
import {
  aliasRow, asDirectoryError, dumpUser, need, quotaColumns, toAlias, toRole, toUser, userColumns,
  type AliasRow, type DirectoryDump, type ListRow, type RoleRow, type UserRow,
} from './directory-rows.js';
import { importSqliteDump } from './sqlite-directory-dump.js';
import { openDirectoryDatabase, snapshotDirectoryDatabase } from './sqlite-directory-file.js';
import { SqliteDirectoryLookup } from './sqlite-directory-lookup.js';
import { findInSqliteDirectory } from './sqlite-directory-find.js';
import { migrateSqliteDirectory } from './sqlite-directory-schema.js';

export interface SqliteDirectoryOptions {
  /** ensured at open, with postmaster@<first> as a user (RFC 5321 §4.5.1) */
  localDomains?: readonly string[];
  /** how long a writer waits for another's lock before SQLITE_BUSY; default 5000 ms */
  busyTimeoutMs?: number;
}

export class SqliteDirectory extends SqliteDirectoryLookup implements DirectoryBackend {
  /**
   * Opens (creating if needed) the directory file, migrates its schema, and ensures the local
   * domains and postmaster@<first local domain> exist. Throws MailError 451 when SQLite fails.
   */
  static async open(file: string, opts: SqliteDirectoryOptions = {}): Promise<SqliteDirectory> {
    return SqliteDirectory.prepared(file, () => openDirectoryDatabase(file, opts.busyTimeoutMs ?? 5000), opts);
  }

  /**
   * A private in-memory copy of the directory file as `open` would make it (migrated, local
   * domains and postmaster ensured), for `correio check`: nothing is written to the data
   * directory, not even when the file is absent (the copy then starts empty, as a first start).
   */
  static async snapshot(file: string, opts: SqliteDirectoryOptions = {}): Promise<SqliteDirectory> {
    return SqliteDirectory.prepared(file, () => snapshotDirectoryDatabase(file), opts);
  }

  private static prepared(file: string, open: () => Database.Database, opts: SqliteDirectoryOptions): SqliteDirectory {
    let db: Database.Database | undefined;
    try {
      db = open();
      return SqliteDirectory.prepare(file, db, opts);
    } catch (err) {
      db?.close();
      throw asDirectoryError(err);
    }
  }

  private static prepare(file: string, db: Database.Database, opts: SqliteDirectoryOptions): SqliteDirectory {
    db.pragma('foreign_keys = ON');
    const dir = new SqliteDirectory(file, db);
    migrateSqliteDirectory(db);
    dir.ensureLocal(opts.localDomains ?? []);
    return dir;
  }

  private ensureLocal(domains: readonly string[]): void {
    const normalized = domains.map((d) => need(normalizeDirectoryDomain(d), 'domain', d));
    this.db.transaction(() => {
      const now = Date.now();
      for (const d of normalized) {
        this.sql('INSERT OR IGNORE INTO domains (name, created_at) VALUES (?, ?)').run(d, now);
      }
      if (normalized.length > 0) {
        // RFC 5321 §4.5.1: every SMTP site must accept mail for postmaster.
        const pm = `postmaster@${normalized[0]}`;
        this.sql('INSERT OR IGNORE INTO users (key, address, name, password_hash, created_at) VALUES (?, ?, NULL, NULL, ?)')
          .run(pm, pm, now);
      }
    }).immediate();
  }

  // --- domains -------------------------------------------------------------------------

  async addDomain(domain: string): Promise<void> {
    const d = need(normalizeDirectoryDomain(domain), 'domain', domain);
    this.guard(() => this.sql('INSERT OR IGNORE INTO domains (name, created_at) VALUES (?, ?)').run(d, Date.now()));
  }

  // --- users ---------------------------------------------------------------------------

  async listUsers(): Promise<User[]> {
    return this.guard(() =>
      (this.sql(`SELECT ${userColumns} FROM users ORDER BY key`).all() as UserRow[]).map(toUser),
    );
  }

  async addUser(address: string, passwordHash?: string, name?: string): Promise<User> {
    const a = need(normalizeDirectoryAddress(address), 'address', address);
    const domain = a.slice(a.lastIndexOf('@') + 1);
    return this.guard(() =>
      this.db.transaction((): User => {
        if (this.sql('SELECT 1 FROM domains WHERE name = ?').get(domain) === undefined) {
          throw new DirectoryInputError(`${domain} is not a local domain`);
        }
        if (this.sql('SELECT 1 FROM users WHERE key = ?').get(directoryKey(a)) !== undefined) {
          throw new DirectoryInputError(`user ${a} already exists`);
        }
        const now = Date.now();
        this.sql('INSERT INTO users (key, address, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(directoryKey(a), a, name ?? null, passwordHash ?? null, now);
        return toUser({ address: a, name: name ?? null, password_hash: null, created_at: now });
      }).immediate(),
    );
  }

  async deleteUser(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard(() => this.sql('DELETE FROM users WHERE key = ?').run(directoryKey(a)).changes > 0);
  }

  async setPassword(address: string, passwordHash: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard(
      () => this.sql('UPDATE users SET password_hash = ? WHERE key = ?').run(passwordHash, directoryKey(a)).changes > 0,
    );
  }

  async setUserQuota(address: string, change: UserQuotaChange): Promise<boolean> {
    const r = this.userRow(address);
    if (r === undefined) return false;
    const [storage, messages] = quotaColumns(toUser(r).quota, change);
    return this.guard(
      () => this.sql('UPDATE users SET quota_storage = ?, quota_messages = ? WHERE key = ?').run(storage, messages, directoryKey(r.address)).changes > 0,
    );
  }

  async setUserDisabled(address: string, disabled: boolean): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard(() => this.sql('UPDATE users SET disabled = ? WHERE key = ?').run(disabled ? 1 : 0, directoryKey(a)).changes > 0);
  }

  // --- aliases -------------------------------------------------------------------------

  async listAliases(): Promise<Alias[]> {
    return this.guard(() =>
      (this.sql('SELECT name, targets, source FROM aliases ORDER BY key').all() as AliasRow[]).map(toAlias),
    );
  }

  async setAlias(name: string, targets: readonly string[], source = 'directory'): Promise<void> {
    const [key, n, json] = aliasRow(name, targets);
    this.guard(() =>
      this.sql(
          `INSERT INTO aliases (key, name, targets, source, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET name = excluded.name, targets = excluded.targets,
             source = excluded.source, updated_at = excluded.updated_at`,
        )
        .run(key, n, json, source, Date.now()),
    );
  }

  async deleteAlias(name: string): Promise<boolean> {
    const n = normalizeAliasName(name);
    if (n === undefined) return false;
    return this.guard(() => this.sql('DELETE FROM aliases WHERE key = ?').run(directoryKey(n)).changes > 0);
  }

  async replaceAliases(source: string, aliases: readonly Alias[]): Promise<void> {
    const rows = aliases.map((a) => aliasRow(a.name, a.targets));
    this.guard(() =>
      this.db.transaction(() => {
        this.sql('DELETE FROM aliases WHERE source = ?').run(source);
        const ins = this.sql(
          `INSERT INTO aliases (key, name, targets, source, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET name = excluded.name, targets = excluded.targets,
             source = excluded.source, updated_at = excluded.updated_at`,
        );
        const now = Date.now();
        for (const [key, n, json] of rows) ins.run(key, n, json, source, now);
      }).immediate(),
    );
  }

  // --- lists ---------------------------------------------------------------------------

  async listLists(): Promise<MailingList[]> {
    return this.guard(() =>
      (this.sql('SELECT key, address, owner, description FROM lists ORDER BY key').all() as ListRow[]).map((r) =>
        this.listFromRow(r),
      ),
    );
  }

  async createList(address: string, owner: string, description?: string): Promise<MailingList> {
    const a = need(normalizeDirectoryAddress(address), 'list address', address);
    const o = need(normalizeDirectoryAddress(owner), 'owner address', owner);
    return this.guard(() =>
      this.db.transaction((): MailingList => {
        if (this.sql('SELECT 1 FROM lists WHERE key = ?').get(directoryKey(a)) !== undefined) {
          throw new DirectoryInputError(`list ${a} already exists`);
        }
        this.sql('INSERT INTO lists (key, address, owner, description, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(directoryKey(a), a, o, description ?? null, Date.now());
        return description === undefined
          ? { address: a, owner: o, members: [] }
          : { address: a, owner: o, members: [], description };
      }).immediate(),
    );
  }

  private listKeyOrThrow(address: string): string {
    const a = need(normalizeDirectoryAddress(address), 'list address', address);
    const key = directoryKey(a);
    if (this.sql('SELECT 1 FROM lists WHERE key = ?').get(key) === undefined) {
      throw new DirectoryInputError(`no such list: ${a}`);
    }
    return key;
  }

  async addListMembers(address: string, members: readonly string[]): Promise<void> {
    const ms = members.map((m) => need(normalizeDirectoryAddress(m), 'member address', m));
    this.guard(() =>
      this.db.transaction(() => {
        const key = this.listKeyOrThrow(address);
        const ins = this.sql('INSERT OR IGNORE INTO list_members (list_key, member_key, member) VALUES (?, ?, ?)');
        for (const m of ms) ins.run(key, directoryKey(m), m);
      }).immediate(),
    );
  }

  async removeListMembers(address: string, members: readonly string[]): Promise<void> {
    this.guard(() =>
      this.db.transaction(() => {
        const key = this.listKeyOrThrow(address);
        const del = this.sql('DELETE FROM list_members WHERE list_key = ? AND member_key = ?');
        for (const m of members) {
          const n = normalizeDirectoryAddress(m);
          if (n !== undefined) del.run(key, directoryKey(n));
        }
      }).immediate(),
    );
  }

  async deleteList(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard(() => this.sql('DELETE FROM lists WHERE key = ?').run(directoryKey(a)).changes > 0);
  }

  // --- roles ---------------------------------------------------------------------------

  async listRoles(): Promise<Role[]> {
    return this.guard(() =>
      (this.sql('SELECT address, holder, description FROM roles ORDER BY key').all() as RoleRow[]).map(toRole),
    );
  }

  /** Creates or reassigns a role; a description left undefined keeps the current one. */
  async setRole(address: string, holder: string, description?: string): Promise<void> {
    const a = need(normalizeDirectoryAddress(address), 'role address', address);
    const h = need(normalizeDirectoryAddress(holder), 'holder address', holder);
    this.guard(() =>
      this.sql(
          `INSERT INTO roles (key, address, holder, description, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET address = excluded.address, holder = excluded.holder,
             description = COALESCE(excluded.description, roles.description), updated_at = excluded.updated_at`,
        )
        .run(directoryKey(a), a, h, description ?? null, Date.now()),
    );
  }

  async deleteRole(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard(() => this.sql('DELETE FROM roles WHERE key = ?').run(directoryKey(a)).changes > 0);
  }

  // --- query interface -----------------------------------------------------------------

  async find(text: string): Promise<DirectoryMatch[]> {
    return this.guard(() => findInSqliteDirectory((q) => this.sql(q), text));
  }

  /** Everything, password hashes included, for `correio migrate` (a copy to another backend). */
  async exportDump(): Promise<DirectoryDump> {
    return {
      domains: this.guard(() => this.sql('SELECT name, created_at FROM domains ORDER BY name').all() as { name: string; created_at: number }[]).map(
        (r) => ({ name: r.name, createdAt: r.created_at }),
      ),
      users: this.guard(() => this.sql(`SELECT ${userColumns} FROM users ORDER BY key`).all() as UserRow[]).map(dumpUser),
      aliases: await this.listAliases(),
      lists: await this.listLists(),
      roles: await this.listRoles(),
    };
  }

  /** Writes a dump (from PostgreSQL: `correio migrate --to file:`) in one transaction of upserts (resumable). */
  async importDump(d: DirectoryDump): Promise<void> {
    this.guard(() => importSqliteDump(this.db, d));
  }

  /** Runs SQLite's quick integrity check; the problems it reports (empty: none). */
  async checkIntegrity(): Promise<string[]> {
    return this.guard(() => {
      const rows = this.db.pragma('quick_check') as { quick_check: string }[];
      return rows.map((r) => r.quick_check).filter((s) => s !== 'ok');
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
