/**
 * @module directory
 * The directory: domains, users (mailboxes), aliases, lists and roles.
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
}

export interface Alias {
  /** the alias name: "local@domain", or "@domain" for a catch-all */
  readonly name: string;
  /** targets as written: addresses, "|command", "/path", ":include:/path", "error:5.x.x text" */
  readonly targets: readonly string[];
  /** where it came from: "directory" or the aliases file */
  readonly source?: string;
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

export interface Directory {
  isLocalDomain(domain: string): Promise<boolean>;
  listDomains(): Promise<string[]>;
  addDomain(domain: string): Promise<void>;

  findUser(address: Address | string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  addUser(address: string, passwordHash?: string, name?: string): Promise<User>;
  deleteUser(address: string): Promise<boolean>;
  setPassword(address: string, passwordHash: string): Promise<boolean>;
  /** verifies a password; false for unknown users too */
  verifyPassword(address: string, password: string): Promise<boolean>;

  findAlias(name: string): Promise<Alias | undefined>;
  listAliases(): Promise<Alias[]>;
  setAlias(name: string, targets: readonly string[], source?: string): Promise<void>;
  deleteAlias(name: string): Promise<boolean>;

  findList(address: string): Promise<MailingList | undefined>;
  listLists(): Promise<MailingList[]>;
  createList(address: string, owner: string, description?: string): Promise<MailingList>;
  addListMembers(address: string, members: readonly string[]): Promise<void>;
  removeListMembers(address: string, members: readonly string[]): Promise<void>;

  findRole(address: string): Promise<Role | undefined>;
  listRoles(): Promise<Role[]>;
  setRole(address: string, holder: string, description?: string): Promise<void>;

  close(): Promise<void>;
}
