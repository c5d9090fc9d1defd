/**
 * @module pg-directory
 * The directory on PostgreSQL (`[storage] url = "postgres://…"`), shared by every node: the
 * same tables, rules and answers as the SQLite backend (both pass the directory contract
 * suites), so a change made on one node (`correio user add` anywhere) is seen by all at once.
 * The schema is the "directory" component of util/pg-database.ts, migrated at open.
 * This file opens it and is its admin face (DirectoryAdmin: listings, changes, search, dump,
 * check); the lookups delivery makes, and the serving node's domain cache, are
 * pg-directory-lookup.ts's PgDirectoryLookup, which it extends.
 * Standards: seed §2 (directory independent of hosts); RFC 5321 §4.5.1 (postmaster), §2.4.
 * Security: bound parameters only; password hashes leave only through verifyPassword. Every
 *   PostgreSQL failure (server down, connection lost, timeout) is thrown as MailError 451 4.3.0,
 *   never answered as "not found" (DESIGN.md §1).
 * Limitations: checkIntegrity checks the schema version and the list/member links, not the
 *   database files (PostgreSQL's own tools do that).
 */
import type { Alias, MailingList, Role, User, UserQuotaChange } from '../core/index.js';
import type { DirectoryBackend, DirectoryMatch } from './directory-backend.js';
import { DirectoryInputError, directoryKey, normalizeAliasName, normalizeDirectoryAddress, normalizeDirectoryDomain } from './directory-address.js';
import {
  aliasRow, asDirectoryError, dumpUser, likePattern, matchDetail, need, quotaColumns, toAlias, toList, toRole, toUser, userColumns,
  type AliasRow, type DirectoryDump, type ListRow, type RoleRow, type UserRow,
} from './directory-rows.js';
import { inTransaction, migrateSchema, openPgPool, schemaStatus, type ComponentStatus, type PgClient } from '../util/pg-database.js';
import { directorySchema } from './pg-directory-schema.js';
import { importPgDump, upsertAlias } from './pg-directory-dump.js';
import { PgDirectoryLookup } from './pg-directory-lookup.js';
import { PgDomainCache, type PgDomainCacheOptions } from './pg-domain-cache.js';

export interface PgDirectoryOptions {
  /** ensured at open, with postmaster@<first> as a user (RFC 5321 §4.5.1) */
  localDomains?: readonly string[];
  /** connections at most (default 5) */
  maxConnections?: number;
  /** keep the local domains in memory, kept current by LISTEN/NOTIFY (a serving node; pg-domain-cache.ts) */
  cacheDomains?: boolean | PgDomainCacheOptions;
  /** where the cache's LISTEN session goes (default: url), e.g. straight to PostgreSQL past PgBouncer */
  listenUrl?: string;
}

/** Byte order, as SQLite sorts: the listing order must not depend on the database's locale. */
const byKey = 'ORDER BY key COLLATE "C"';

export class PgDirectory extends PgDirectoryLookup implements DirectoryBackend {
  /**
   * Connects, migrates the directory schema (under the migration lock) and ensures the local
   * domains and postmaster@<first local domain>. Throws MailError 451 when PostgreSQL fails.
   */
  static async open(url: string, opts: PgDirectoryOptions = {}): Promise<PgDirectory> {
    const pool = openPgPool(url, { max: opts.maxConnections ?? 5, applicationName: 'correio directory' });
    try {
      await migrateSchema(pool, [directorySchema]);
      const dir = new PgDirectory(pool);
      await dir.#ensureLocal(opts.localDomains ?? []);
      if (opts.cacheDomains) {
        dir.domains = new PgDomainCache(opts.listenUrl ?? url, opts.cacheDomains === true ? {} : opts.cacheDomains);
        await dir.domains.start();
      }
      return dir;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw asDirectoryError(err);
    }
  }

  /**
   * Connects with read-only sessions and changes nothing: no migration, no local domains made
   * (`correio check`). The schema may be behind; `schemaState` says so.
   */
  static openReadOnly(url: string): PgDirectory {
    return new PgDirectory(openPgPool(url, { max: 2, applicationName: 'correio check', readOnly: true }));
  }

  /** The directory schema's version in the database and the one this correio expects. */
  async schemaState(): Promise<ComponentStatus> {
    return this.guard(async (db) => (await schemaStatus(db, [directorySchema]))[0]);
  }

  async #ensureLocal(domains: readonly string[]): Promise<void> {
    const normalized = domains.map((d) => need(normalizeDirectoryDomain(d), 'domain', d));
    if (normalized.length === 0) return;
    await inTransaction(this.pool, async (c) => {
      const now = Date.now();
      for (const d of normalized) await c.query('INSERT INTO dir_domains (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [d, now]);
      // RFC 5321 §4.5.1: every SMTP site must accept mail for postmaster.
      const pm = `postmaster@${normalized[0]}`;
      await c.query(
        'INSERT INTO dir_users (key, address, name, password_hash, created_at) VALUES ($1, $1, NULL, NULL, $2) ON CONFLICT DO NOTHING',
        [pm, now],
      );
    });
  }

  // --- domains -------------------------------------------------------------------------

  async addDomain(domain: string): Promise<void> {
    const d = need(normalizeDirectoryDomain(domain), 'domain', domain);
    await this.guard((db) => db.query('INSERT INTO dir_domains (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [d, Date.now()]));
    this.domains?.changed();
  }

  // --- users ---------------------------------------------------------------------------

  async listUsers(): Promise<User[]> {
    return this.guard(async (db) => (await this.rows<UserRow>(db, `SELECT ${userColumns} FROM dir_users ${byKey}`)).map(toUser));
  }

  async addUser(address: string, passwordHash?: string, name?: string): Promise<User> {
    const a = need(normalizeDirectoryAddress(address), 'address', address);
    const domain = a.slice(a.lastIndexOf('@') + 1);
    return this.tx(async (c) => {
      if (!(await this.exists(c, 'SELECT 1 FROM dir_domains WHERE name = $1', [domain]))) {
        throw new DirectoryInputError(`${domain} is not a local domain`);
      }
      const now = Date.now();
      const r = await c.query(
        'INSERT INTO dir_users (key, address, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [directoryKey(a), a, name ?? null, passwordHash ?? null, now],
      );
      if (r.rowCount === 0) throw new DirectoryInputError(`user ${a} already exists`);
      return toUser({ address: a, name: name ?? null, password_hash: null, created_at: now });
    });
  }

  async deleteUser(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard((db) => this.exists(db, 'DELETE FROM dir_users WHERE key = $1', [directoryKey(a)]));
  }

  async setPassword(address: string, passwordHash: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard((db) => this.exists(db, 'UPDATE dir_users SET password_hash = $1 WHERE key = $2', [passwordHash, directoryKey(a)]));
  }

  async setUserQuota(address: string, change: UserQuotaChange): Promise<boolean> {
    const r = await this.userRow(address);
    if (r === undefined) return false;
    const [storage, messages] = quotaColumns(toUser(r).quota, change);
    const changed = await this.guard((db) =>
      this.exists(db, 'UPDATE dir_users SET quota_storage = $1, quota_messages = $2 WHERE key = $3', [storage, messages, directoryKey(r.address)]));
    this.domains?.changed();
    return changed;
  }

  async setUserDisabled(address: string, disabled: boolean): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard((db) => this.exists(db, 'UPDATE dir_users SET disabled = $1 WHERE key = $2', [disabled, directoryKey(a)]));
  }

  // --- aliases -------------------------------------------------------------------------

  async listAliases(): Promise<Alias[]> {
    return this.guard(async (db) => (await this.rows<AliasRow>(db, `SELECT name, targets, source FROM dir_aliases ${byKey}`)).map(toAlias));
  }

  async setAlias(name: string, targets: readonly string[], source = 'directory'): Promise<void> {
    const [key, n, json] = aliasRow(name, targets);
    await this.guard((db) => db.query(upsertAlias, [key, n, json, source, Date.now()]));
  }

  async deleteAlias(name: string): Promise<boolean> {
    const n = normalizeAliasName(name);
    if (n === undefined) return false;
    return this.guard((db) => this.exists(db, 'DELETE FROM dir_aliases WHERE key = $1', [directoryKey(n)]));
  }

  async replaceAliases(source: string, aliases: readonly Alias[]): Promise<void> {
    const rows = aliases.map((a) => aliasRow(a.name, a.targets));
    await this.tx(async (c) => {
      await c.query('DELETE FROM dir_aliases WHERE source = $1', [source]);
      const now = Date.now();
      for (const [key, n, json] of rows) await c.query(upsertAlias, [key, n, json, source, now]);
    });
  }

  // --- lists ---------------------------------------------------------------------------

  async listLists(): Promise<MailingList[]> {
    return this.guard(async (db) => this.withMembers(db, await this.rows<ListRow>(db, `SELECT key, address, owner, description FROM dir_lists ${byKey}`)));
  }

  async createList(address: string, owner: string, description?: string): Promise<MailingList> {
    const a = need(normalizeDirectoryAddress(address), 'list address', address);
    const o = need(normalizeDirectoryAddress(owner), 'owner address', owner);
    return this.guard(async (db) => {
      const r = await db.query(
        'INSERT INTO dir_lists (key, address, owner, description, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [directoryKey(a), a, o, description ?? null, Date.now()],
      );
      if (r.rowCount === 0) throw new DirectoryInputError(`list ${a} already exists`);
      return toList({ key: directoryKey(a), address: a, owner: o, description: description ?? null }, []);
    });
  }

  /** The list's key, its row locked for the transaction; bad input when there is no such list. */
  async #listKey(c: PgClient, address: string): Promise<string> {
    const a = need(normalizeDirectoryAddress(address), 'list address', address);
    const key = directoryKey(a);
    if (!(await this.exists(c, 'SELECT 1 FROM dir_lists WHERE key = $1 FOR UPDATE', [key]))) throw new DirectoryInputError(`no such list: ${a}`);
    return key;
  }

  async addListMembers(address: string, members: readonly string[]): Promise<void> {
    const ms = members.map((m) => need(normalizeDirectoryAddress(m), 'member address', m));
    await this.tx(async (c) => {
      const key = await this.#listKey(c, address);
      for (const m of ms) {
        await c.query('INSERT INTO dir_list_members (list_key, member_key, member) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [key, directoryKey(m), m]);
      }
    });
  }

  async removeListMembers(address: string, members: readonly string[]): Promise<void> {
    const keys = members.map((m) => normalizeDirectoryAddress(m)).filter((m) => m !== undefined).map(directoryKey);
    await this.tx(async (c) => {
      const key = await this.#listKey(c, address);
      await c.query('DELETE FROM dir_list_members WHERE list_key = $1 AND member_key = ANY($2)', [key, keys]);
    });
  }

  async deleteList(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard((db) => this.exists(db, 'DELETE FROM dir_lists WHERE key = $1', [directoryKey(a)]));
  }

  // --- roles ---------------------------------------------------------------------------

  async listRoles(): Promise<Role[]> {
    return this.guard(async (db) => (await this.rows<RoleRow>(db, `SELECT address, holder, description FROM dir_roles ${byKey}`)).map(toRole));
  }

  /** Creates or reassigns a role; a description left undefined keeps the current one. */
  async setRole(address: string, holder: string, description?: string): Promise<void> {
    const a = need(normalizeDirectoryAddress(address), 'role address', address);
    const h = need(normalizeDirectoryAddress(holder), 'holder address', holder);
    await this.guard((db) =>
      db.query(
        `INSERT INTO dir_roles (key, address, holder, description, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO UPDATE SET address = excluded.address, holder = excluded.holder,
           description = COALESCE(excluded.description, dir_roles.description), updated_at = excluded.updated_at`,
        [directoryKey(a), a, h, description ?? null, Date.now()],
      ),
    );
  }

  async deleteRole(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return false;
    return this.guard((db) => this.exists(db, 'DELETE FROM dir_roles WHERE key = $1', [directoryKey(a)]));
  }

  // --- query interface -----------------------------------------------------------------

  async find(text: string): Promise<DirectoryMatch[]> {
    const p = [likePattern(text.trim())];
    const like = (col: string): string => `lower(${col}) LIKE $1 ESCAPE '\\'`;
    return this.guard(async (db) => {
      const out: DirectoryMatch[] = [];
      for (const r of await this.rows<{ name: string }>(db, `SELECT name FROM dir_domains WHERE ${like('name')} ORDER BY name COLLATE "C"`, p)) {
        out.push({ kind: 'domain', address: r.name });
      }
      const users = await this.rows<{ address: string; name: string | null }>(
        db, `SELECT address, name FROM dir_users WHERE ${like('address')} OR ${like("coalesce(name, '')")} ${byKey}`, p);
      for (const r of users) out.push(r.name === null ? { kind: 'user', address: r.address } : { kind: 'user', address: r.address, detail: r.name });
      const aliases = await this.rows<AliasRow>(db, `SELECT name, targets, source FROM dir_aliases WHERE ${like('name')} OR ${like('targets')} ${byKey}`, p);
      for (const r of aliases) out.push({ kind: 'alias', address: r.name, detail: matchDetail.alias(r) });
      const lists = await this.rows<ListRow>(
        db, `SELECT key, address, owner, description FROM dir_lists WHERE ${like('address')} OR ${like('owner')} OR ${like("coalesce(description, '')")} ${byKey}`, p);
      for (const r of lists) out.push({ kind: 'list', address: r.address, detail: matchDetail.list(r) });
      const roles = await this.rows<RoleRow>(
        db, `SELECT address, holder, description FROM dir_roles WHERE ${like('address')} OR ${like('holder')} OR ${like("coalesce(description, '')")} ${byKey}`, p);
      for (const r of roles) out.push({ kind: 'role', address: r.address, detail: matchDetail.role(r) });
      return out;
    });
  }

  /** Everything, password hashes included, for `correio migrate --to file:` (a copy to another backend). */
  async exportDump(): Promise<DirectoryDump> {
    const domains = await this.guard(async (db) => this.rows<{ name: string; created_at: string }>(db, 'SELECT name, created_at FROM dir_domains ORDER BY name COLLATE "C"'));
    const users = await this.guard(async (db) => this.rows<UserRow>(db, `SELECT ${userColumns} FROM dir_users ${byKey}`));
    return {
      domains: domains.map((r) => ({ name: r.name, createdAt: Number(r.created_at) })),
      users: users.map(dumpUser),
      aliases: await this.listAliases(),
      lists: await this.listLists(),
      roles: await this.listRoles(),
    };
  }

  /**
   * Writes a dump (from another backend: `correio migrate`) in one transaction; an entry that
   * exists already is replaced by the dump's, so running it again is harmless (resumable).
   */
  async importDump(d: DirectoryDump): Promise<void> {
    await this.tx((c) => importPgDump(c, d));
    this.domains?.changed();
  }

  /** The schema is at this correio's version and no member row points at a missing list. */
  async checkIntegrity(): Promise<string[]> {
    return this.guard(async (db) => {
      const problems: string[] = [];
      for (const s of await schemaStatus(db, [directorySchema])) {
        if (s.current !== s.latest) problems.push(`${s.component} schema at version ${s.current}, this correio expects ${s.latest} (correio db migrate)`);
      }
      const orphans = await this.rows<{ n: string }>(
        db, 'SELECT count(*) AS n FROM dir_list_members m WHERE NOT EXISTS (SELECT 1 FROM dir_lists l WHERE l.key = m.list_key)');
      if (Number(orphans[0]?.n ?? 0) > 0) problems.push(`${orphans[0].n} list member rows without their list`);
      return problems;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.domains?.close();
    await this.pool.end();
  }
}
