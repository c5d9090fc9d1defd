/**
 * @module pg-directory-lookup
 * The PostgreSQL directory's lookup face (core's DirectoryLookup, the hot path): local domains,
 * users, aliases, lists and roles as resolve, intake, the transports and the servers read them,
 * on the pool and domain cache that pg-directory.ts's PgDirectory (the admin face, open and
 * close) extends. A serving node (openDirectory with `cacheDomains`) answers isLocalDomain and
 * anyOwnQuota from memory (pg-domain-cache.ts: read again on LISTEN/NOTIFY, after its own
 * changes and every 30 s; a query per lookup, and "look the user up" for the quota gate,
 * whenever that session is down).
 * Standards: seed §2 (directory independent of hosts); RFC 5321 §2.4 (see directory-address).
 * Security: bound parameters only; password hashes leave only through verifyPassword. Every
 *   PostgreSQL failure (server down, connection lost, timeout) is thrown as MailError 451 4.3.0
 *   (guard), never answered as "not found" (DESIGN.md §1).
 * Limitations: reads only; every change is PgDirectory's.
 */
import type { Address, Alias, DirectoryLookup, MailingList, Role, User } from '../core/index.js';
import { directoryKey, normalizeAliasName, normalizeDirectoryAddress, normalizeDirectoryDomain } from './directory-address.js';
import { asDirectoryError, checkUserPassword, toAlias, toList, toRole, toUser, userColumns, type AliasRow, type ListRow, type RoleRow, type UserRow } from './directory-rows.js';
import { inTransaction, type PgClient, type PgPool } from '../util/pg-database.js';
import type { PgDomainCache } from './pg-domain-cache.js';

type Queryable = PgPool | PgClient;

export class PgDirectoryLookup implements DirectoryLookup {
  protected readonly pool: PgPool;
  protected domains: PgDomainCache | undefined;
  protected closed = false;

  protected constructor(pool: PgPool) {
    this.pool = pool;
  }

  /** Runs PostgreSQL work; anything but bad input becomes MailError 451 4.3.0. */
  protected async guard<T>(work: (db: PgPool) => Promise<T>): Promise<T> {
    try {
      if (this.closed) throw new Error('directory closed');
      return await work(this.pool);
    } catch (err) {
      throw asDirectoryError(err);
    }
  }

  protected tx<T>(work: (c: PgClient) => Promise<T>): Promise<T> {
    return this.guard((pool) => inTransaction(pool, work));
  }

  protected async rows<R extends object>(db: Queryable, text: string, values: unknown[] = []): Promise<R[]> {
    return (await db.query<R>(text, values)).rows;
  }

  protected async exists(db: Queryable, text: string, values: unknown[]): Promise<boolean> {
    return ((await db.query(text, values)).rowCount ?? 0) > 0;
  }

  // --- domains -------------------------------------------------------------------------

  async isLocalDomain(domain: string): Promise<boolean> {
    const d = normalizeDirectoryDomain(domain);
    if (d === undefined) return false;
    return this.domains?.has(d) ?? this.guard((db) => this.exists(db, 'SELECT 1 FROM dir_domains WHERE name = $1', [d]));
  }

  async listDomains(): Promise<string[]> {
    return this.guard(async (db) => (await this.rows<{ name: string }>(db, 'SELECT name FROM dir_domains ORDER BY name COLLATE "C"')).map((r) => r.name));
  }

  // --- users ---------------------------------------------------------------------------

  protected async userRow(address: Address | string): Promise<UserRow | undefined> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return undefined;
    return this.guard(async (db) =>
      (await this.rows<UserRow>(db, `SELECT ${userColumns} FROM dir_users WHERE key = $1`, [directoryKey(a)]))[0],
    );
  }

  async findUser(address: Address | string): Promise<User | undefined> {
    const r = await this.userRow(address);
    return r && toUser(r);
  }

  /**
   * Whether any user has limits of their own (the quota gate asks at every RCPT and delivery): a
   * serving node answers from its cache while that is current (pg-domain-cache.ts); otherwise
   * true, so the gate looks the user up as it would without this answer.
   */
  async anyOwnQuota(): Promise<boolean> {
    return this.anyOwnQuotaNow() ?? true;
  }

  /** anyOwnQuota from the serving node's cache while it is current; undefined otherwise (then anyOwnQuota asks). */
  anyOwnQuotaNow(): boolean | undefined {
    return this.domains?.anyOwnQuota();
  }

  async verifyPassword(address: string, password: string): Promise<boolean> {
    // an unknown or disabled user costs a real check too, and fails
    return checkUserPassword(await this.userRow(address), password);
  }

  // --- aliases -------------------------------------------------------------------------

  async findAlias(name: string): Promise<Alias | undefined> {
    const n = normalizeAliasName(name);
    if (n === undefined) return undefined;
    const r = await this.guard(async (db) => (await this.rows<AliasRow>(db, 'SELECT name, targets, source FROM dir_aliases WHERE key = $1', [directoryKey(n)]))[0]);
    return r && toAlias(r);
  }

  // --- lists ---------------------------------------------------------------------------

  protected async withMembers(db: Queryable, lists: ListRow[]): Promise<MailingList[]> {
    if (lists.length === 0) return [];
    const members = await this.rows<{ list_key: string; member: string }>(
      db,
      'SELECT list_key, member FROM dir_list_members WHERE list_key = ANY($1) ORDER BY id',
      [lists.map((l) => l.key)],
    );
    return lists.map((l) => toList(l, members.filter((m) => m.list_key === l.key).map((m) => m.member)));
  }

  async findList(address: string): Promise<MailingList | undefined> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return undefined;
    return this.guard(async (db) => {
      const r = await this.rows<ListRow>(db, 'SELECT key, address, owner, description FROM dir_lists WHERE key = $1', [directoryKey(a)]);
      return (await this.withMembers(db, r))[0];
    });
  }

  // --- roles ---------------------------------------------------------------------------

  async findRole(address: string): Promise<Role | undefined> {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return undefined;
    const r = await this.guard(async (db) => (await this.rows<RoleRow>(db, 'SELECT address, holder, description FROM dir_roles WHERE key = $1', [directoryKey(a)]))[0]);
    return r && toRole(r);
  }

  /** Whether isLocalDomain answers from memory now (tests). */
  get domainsCached(): boolean {
    return this.domains?.current ?? false;
  }
}
