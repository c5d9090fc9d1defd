/**
 * @module directory-backend
 * What every directory backend (SQLite now, PostgreSQL later) offers beyond core's Directory:
 * administration (delete lists and roles, replace an aliases file's set) and the query
 * interface of `correio directory find`. test/contract/directory.contract.ts checks it all.
 * Standards: seed §2 (a directory with a query interface).
 * Security: find() never returns password hashes.
 * Limitations: none.
 */
import type { Alias, Directory } from '../core/index.js';

export type DirectoryMatchKind = 'domain' | 'user' | 'alias' | 'list' | 'role';

/** One hit of DirectoryBackend.find. */
export interface DirectoryMatch {
  readonly kind: DirectoryMatchKind;
  /** the address (user, list, role), alias name, or domain */
  readonly address: string;
  /** a short human description: user's name, alias targets, list description, role holder */
  readonly detail?: string;
}

export interface DirectoryBackend extends Directory {
  /**
   * Case-insensitive substring search over domains, user addresses and names, alias names and
   * targets, list addresses, owners and descriptions, role addresses, holders and descriptions.
   * Ordered by kind (domain, user, alias, list, role), then address.
   */
  find(text: string): Promise<DirectoryMatch[]>;
  deleteList(address: string): Promise<boolean>;
  deleteRole(address: string): Promise<boolean>;
  /**
   * Replaces, in one transaction, every alias whose source is `source` by `aliases`
   * (newaliases / `alias import`). Aliases of other sources are kept; on a name clash the
   * new alias wins and takes the given source.
   */
  replaceAliases(source: string, aliases: readonly Alias[]): Promise<void>;
  /** The storage's own consistency check (`correio check`); the problems found, empty if none. */
  checkIntegrity(): Promise<string[]>;
}
