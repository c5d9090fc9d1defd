/**
 * @module sqlite-directory-lookup
 * The SQLite directory's lookup face (core's DirectoryLookup, the hot path): local domains,
 * users, aliases, lists and roles as resolve, intake, the transports and the servers read them,
 * on the handle, prepared statements and cached answers that sqlite-directory.ts's
 * SqliteDirectory (the admin face, open and close) extends.
 * Standards: seed §2 (directory independent of hosts, role addresses); RFC 5321 §2.4 (see
 *   directory-address for case rules).
 * Security: bound parameters only; password hashes never leave except through verifyPassword.
 *   Every SQLite failure is thrown as MailError 451 4.3.0 (guard), never answered as "not
 *   found" (DESIGN.md §1: lookups have three outcomes).
 * Limitations: reads only; every change is SqliteDirectory's.
 */
import type Database from 'better-sqlite3';
import type { Address, Alias, DirectoryLookup, MailingList, NameRecords, Role, User } from '../core/index.js';
import { directoryKey, normalizeAliasName, normalizeDirectoryAddress, normalizeDirectoryDomain } from './directory-address.js';
import { asDirectoryError, checkUserPassword, toAlias, toList, toRole, toUser, userColumns, type AliasRow, type ListRow, type RoleRow, type UserRow } from './directory-rows.js';
import { TurnValue } from '../util/index.js';
import { SqliteCachedAnswers, SqliteCachedValue, type DbStamp } from './sqlite-cached-value.js';

export class SqliteDirectoryLookup implements DirectoryLookup {
  readonly file: string;
  protected readonly db: Database.Database;

  /** prepared statements by their SQL text: a lookup per RCPT must not compile SQL each time */
  private readonly statements = new Map<string, Database.Statement>();

  /** the file's data_version (other connections' commits), read once per turn for the caches below */
  private readonly version = new TurnValue(() => this.sql('PRAGMA data_version').pluck().get() as number);

  /** what the cached answers below were computed at (sqlite-cached-value.ts) */
  private readonly stamp = (): DbStamp => ({ others: this.version.get(), own: this.sql('SELECT total_changes()').pluck().get() as number });

  /** whether any user has limits of their own: asked at every RCPT and delivery (anyOwnQuota) */
  private readonly ownQuotas = new SqliteCachedValue(
    this.stamp,
    () => this.sql('SELECT EXISTS (SELECT 1 FROM users WHERE quota_storage IS NOT NULL OR quota_messages IS NOT NULL)').pluck().get() === 1,
  );

  /**
   * The local domains, asked at every RCPT (relay control): read again only once the file
   * changed (a CLI run or `correio migrate` in another process, this handle's own writes)
   */
  private readonly domains = new SqliteCachedValue(
    this.stamp,
    () => new Set((this.sql('SELECT name FROM domains').pluck().all() as string[])),
  );

  /** findName's read transaction, made at its first use */
  private nameRead: ((local: string, domain: string) => NameRecords) | undefined;

  /** findName's answers by `local@domain` */
  private readonly names = new SqliteCachedAnswers<NameRecords>(this.stamp);

  protected constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
  }

  /** The prepared statement for `text`, compiled once per handle (callers run it in guard). */
  protected sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (st === undefined) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /** Runs SQLite work; anything but bad input becomes MailError 451 4.3.0. */
  protected guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw asDirectoryError(err);
    }
  }

  // --- domains -------------------------------------------------------------------------

  async isLocalDomain(domain: string): Promise<boolean> {
    const d = normalizeDirectoryDomain(domain);
    if (d === undefined) return false;
    return this.guard(() => this.domains.get().has(d));
  }

  async listDomains(): Promise<string[]> {
    return this.guard(() => (this.sql('SELECT name FROM domains ORDER BY name').all() as { name: string }[]).map((r) => r.name));
  }

  // --- users ---------------------------------------------------------------------------

  protected userRow(address: Address | string): UserRow | undefined {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return undefined;
    return this.guard(
      () =>
        this.sql(`SELECT ${userColumns} FROM users WHERE key = ?`).get(directoryKey(a)) as
          | UserRow
          | undefined,
    );
  }

  async findUser(address: Address | string): Promise<User | undefined> {
    const r = this.userRow(address);
    return r && toUser(r);
  }

  /**
   * The alias, role, list and user of a local name in one read transaction (DirectoryLookup
   * findName): each statement outside a transaction is a read transaction of its own, a lock and
   * an unlock of the WAL index and a look at the file (three system calls), four per RCPT.
   */
  async findName(local: string, domain: string): Promise<NameRecords> {
    return this.guard(() => this.names.get(`${local}@${domain}`, () => this.readName(local, domain)));
  }

  /** findName's read transaction (an answer to cache: it is shared, and its records are read-only). */
  private readName(local: string, domain: string): NameRecords {
    return this.guard(() => {
      this.nameRead ??= this.db.transaction((l: string, d: string): NameRecords => {
        const name = `${l}@${d}`.toLowerCase();
        const alias = this.aliasOf(name);
        const role = this.roleOf(name);
        const list = this.listOf(name);
        const r = this.userRow({ local: l, domain: d });
        const user = r && toUser(r);
        return { ...(alias && { alias }), ...(role && { role }), ...(list && { list }), ...(user && { user }) };
      });
      return this.nameRead(local, domain);
    });
  }

  /** Whether any user has a quota of their own; a pragma per ask, the table read after changes. */
  async anyOwnQuota(): Promise<boolean> {
    return this.anyOwnQuotaNow();
  }

  /** anyOwnQuota without a promise: the same pragma, asked synchronously. */
  anyOwnQuotaNow(): boolean {
    return this.guard(() => this.ownQuotas.get());
  }

  async verifyPassword(address: string, password: string): Promise<boolean> {
    // an unknown user costs a real check too, so a guesser cannot tell users from non-users
    return checkUserPassword(this.userRow(address), password);
  }

  // --- aliases -------------------------------------------------------------------------

  async findAlias(name: string): Promise<Alias | undefined> {
    return this.guard(() => this.aliasOf(name));
  }

  private aliasOf(name: string): Alias | undefined {
    const n = normalizeAliasName(name);
    if (n === undefined) return undefined;
    const r = this.sql('SELECT name, targets, source FROM aliases WHERE key = ?').get(directoryKey(n)) as AliasRow | undefined;
    return r && toAlias(r);
  }

  // --- lists ---------------------------------------------------------------------------

  protected listFromRow(r: ListRow): MailingList {
    const members = (
      this.sql('SELECT member FROM list_members WHERE list_key = ? ORDER BY id').all(r.key) as { member: string }[]
    ).map((m) => m.member);
    return toList(r, members);
  }

  async findList(address: string): Promise<MailingList | undefined> {
    return this.guard(() => this.listOf(address));
  }

  private listOf(address: string): MailingList | undefined {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return undefined;
    const r = this.sql('SELECT key, address, owner, description FROM lists WHERE key = ?').get(directoryKey(a)) as ListRow | undefined;
    return r && this.listFromRow(r);
  }

  // --- roles ---------------------------------------------------------------------------

  async findRole(address: string): Promise<Role | undefined> {
    return this.guard(() => this.roleOf(address));
  }

  private roleOf(address: string): Role | undefined {
    const a = normalizeDirectoryAddress(address);
    if (a === undefined) return undefined;
    const r = this.sql('SELECT address, holder, description FROM roles WHERE key = ?').get(directoryKey(a)) as RoleRow | undefined;
    return r && toRole(r);
  }
}
