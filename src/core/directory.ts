/**
 * @module directory
 * The directory: domains, users (mailboxes), aliases, lists and roles, as two faces: the
 * small DirectoryLookup that delivery and authentication use, and DirectoryAdmin for the
 * operator's tools (maddy's module.Table: a lookup face apart from the admin face). A backend
 * (Directory) offers both; each caller takes the smallest face it needs.
 * Lookups have three outcomes: a value, undefined (not found), or a thrown MailError with a
 * 4xx reply (temporary failure: never treated as "no such user").
 * Standards: seed §2 (directory of mail names independent of hosts).
 * Security: password hashes never leave the directory except for verification.
 * Limitations: none.
 */
import type { Address } from './address.js';

export interface User {
  /** canonical address, lower-case domain, e.g. "suzana@dc.uece.br" */
  readonly address: string;
  readonly name?: string;
  readonly createdAt: number;
  /**
   * the user's own storage quota, where it differs from the configured default
   * (`[mailbox] quota_storage` / `quota_messages`); 0 means no limit
   */
  readonly quota?: UserQuota;
  /** a disabled account logs in nowhere and receives no mail (docs/quota.md) */
  readonly disabled?: boolean;
}

/**
 * A per-user quota as stored: storage in octets and a message count. A field left out uses
 * the configured default; 0 is "no limit".
 */
export interface UserQuota {
  readonly storage?: number;
  readonly messages?: number;
}

/** A change of a user's quota: a number sets it, null goes back to the default, absent keeps it. */
export interface UserQuotaChange {
  readonly storage?: number | null;
  readonly messages?: number | null;
}

export interface Alias {
  /** the alias name: "local@domain", or "@domain" for a catch-all */
  readonly name: string;
  /** targets as written: addresses, "|command", "/path", ":include:/path", "error:5.x.x text" */
  readonly targets: readonly string[];
  /** where it came from: "directory" or the aliases file */
  readonly source?: string;
  /** for an alias from a file: the 1-based line of its name, for messages (`correio check`) */
  readonly line?: number;
}

export interface MailingList {
  readonly address: string;
  readonly owner: string;
  readonly members: readonly string[];
  readonly description?: string;
}

export interface Role {
  /** the role address, e.g. "chefe-de-departamento@dc.uece.br" */
  readonly address: string;
  /** current holder's address */
  readonly holder: string;
  readonly description?: string;
}

/**
 * The lookups delivery and authentication make (the hot path): what resolve, intake, the
 * transports and the servers need. Every method is a read; a failure throws MailError 4xx.
 */
export interface DirectoryLookup {
  isLocalDomain(domain: string): Promise<boolean>;
  /** the local domains in order; the first names "postmaster" without a domain */
  listDomains(): Promise<string[]>;
  findUser(address: Address | string): Promise<User | undefined>;
  /** verifies a password; false for unknown and disabled users too */
  verifyPassword(address: string, password: string): Promise<boolean>;
  findAlias(name: string): Promise<Alias | undefined>;
  findList(address: string): Promise<MailingList | undefined>;
  findRole(address: string): Promise<Role | undefined>;
  /**
   * Whether any user has a quota of their own (optional): when false, every user has the
   * configured default and the quota gate looks nobody up. A backend offers it only where the
   * answer is cheap and never stale (SQLite: kept against PRAGMA data_version; PostgreSQL: a
   * serving node's cache kept by NOTIFY, true whenever that is not current).
   */
  anyOwnQuota?(): Promise<boolean>;
  /**
   * anyOwnQuota's answer without a promise, where the backend has it at hand (optional; SQLite:
   * the same pragma, PostgreSQL: the serving node's cache); undefined when only anyOwnQuota can
   * tell. For the quota gate's synchronous answer on a hot path (an IMAP APPEND).
   */
  anyOwnQuotaNow?(): boolean | undefined;
  /**
   * What a local name is in each table, read at once (optional): the resolver's alias, role,
   * list and user lookups of one name (NameLookup) as one read, where the backend can make them
   * one (SQLite: one read transaction instead of four). The alias, role and list are looked up
   * as findAlias/findRole/findList look up `${local}@${domain}` in lower case, the user as
   * findUser({ local, domain }).
   */
  findName?(local: string, domain: string): Promise<NameRecords>;
}

/** A local name's entries in each table (DirectoryLookup.findName). */
export interface NameRecords {
  readonly alias?: Alias;
  readonly role?: Role;
  readonly list?: MailingList;
  readonly user?: User;
}

export type DirectoryMatchKind = 'domain' | 'user' | 'alias' | 'list' | 'role';

/** One hit of DirectoryAdmin.find. */
export interface DirectoryMatch {
  readonly kind: DirectoryMatchKind;
  /** the address (user, list, role), alias name, or domain */
  readonly address: string;
  /** a short human description: user's name, alias targets, list description, role holder */
  readonly detail?: string;
}

/**
 * The operator's face (the CLI, later the admin API): listing, changes, the query interface
 * of `correio directory find` and the storage's own check. Bad input throws the backend's
 * input error (directory's DirectoryInputError); a storage failure, MailError 4xx.
 */
export interface DirectoryAdmin {
  listDomains(): Promise<string[]>;
  addDomain(domain: string): Promise<void>;

  listUsers(): Promise<User[]>;
  addUser(address: string, passwordHash?: string, name?: string): Promise<User>;
  deleteUser(address: string): Promise<boolean>;
  setPassword(address: string, passwordHash: string): Promise<boolean>;
  /** false when there is no such user; a negative or fractional number is bad input */
  setUserQuota(address: string, change: UserQuotaChange): Promise<boolean>;
  /** false when there is no such user */
  setUserDisabled(address: string, disabled: boolean): Promise<boolean>;

  listAliases(): Promise<Alias[]>;
  setAlias(name: string, targets: readonly string[], source?: string): Promise<void>;
  deleteAlias(name: string): Promise<boolean>;
  /**
   * Replaces, in one transaction, every alias whose source is `source` by `aliases`
   * (newaliases / `alias import`). Aliases of other sources are kept; on a name clash the
   * new alias wins and takes the given source.
   */
  replaceAliases(source: string, aliases: readonly Alias[]): Promise<void>;

  listLists(): Promise<MailingList[]>;
  createList(address: string, owner: string, description?: string): Promise<MailingList>;
  addListMembers(address: string, members: readonly string[]): Promise<void>;
  removeListMembers(address: string, members: readonly string[]): Promise<void>;
  deleteList(address: string): Promise<boolean>;

  listRoles(): Promise<Role[]>;
  setRole(address: string, holder: string, description?: string): Promise<void>;
  deleteRole(address: string): Promise<boolean>;

  /**
   * Case-insensitive substring search over domains, user addresses and names, alias names and
   * targets, list addresses, owners and descriptions, role addresses, holders and descriptions.
   * Ordered by kind (domain, user, alias, list, role), then address. Never password hashes.
   */
  find(text: string): Promise<DirectoryMatch[]>;
  /** The storage's own consistency check (`correio check`); the problems found, empty if none. */
  checkIntegrity(): Promise<string[]>;
}

/** A whole directory backend: both faces, and close(). app/ and the CLI open one. */
export interface Directory extends DirectoryLookup, DirectoryAdmin {
  close(): Promise<void>;
}
