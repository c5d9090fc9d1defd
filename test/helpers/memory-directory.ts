/**
 * @module memory-directory
 * An in-memory Directory for tests of the resolver, transports, intake and CLI pieces: both
 * faces (DirectoryLookup and DirectoryAdmin), with the SQLite backend's rules (addresses and
 * names normalised by src/directory's directory-address, input errors as DirectoryInputError,
 * scrypt password hashes, ordering by lower-case key). It passes the same contract suites
 * (test/contract/directory-lookup.contract.ts, directory-admin.contract.ts) as the real backend.
 * Not a backend: no persistence beyond the MemoryDirectoryData it is given (reopen = a new
 * MemoryDirectory over the same data).
 * Set `failing = true` to make every lookup throw a temporary failure (451 4.4.3), as a broken
 * database would; `lookups` counts lookups. seedList() stores a list as given, unchecked (data
 * written by an older version, or straight into the database).
 */
import {
  MailError,
  replies,
  type Address,
  type Alias,
  type Directory,
  type DirectoryMatch,
  type MailingList,
  type Role,
  type User,
  type UserQuotaChange,
} from '../../src/core/index.js';
import {
  DirectoryInputError,
  directoryKey,
  normalizeAliasName,
  normalizeDirectoryAddress,
  normalizeDirectoryDomain,
  verifyPassword,
  quotaColumns,
} from '../../src/directory/index.js';

interface StoredUser extends User {
  readonly hash?: string;
}

/** an alias as the directory keeps it: a file line means nothing here */
type StoredAlias = Required<Omit<Alias, 'line'>>;

/** What a MemoryDirectory holds; share it between instances to "reopen" the same directory. */
export interface MemoryDirectoryData {
  readonly domains: Set<string>;
  readonly users: Map<string, StoredUser>;
  readonly aliases: Map<string, StoredAlias>;
  readonly lists: Map<string, MailingList>;
  readonly roles: Map<string, Role>;
}

export function memoryDirectoryData(): MemoryDirectoryData {
  return { domains: new Set(), users: new Map(), aliases: new Map(), lists: new Map(), roles: new Map() };
}

function need(value: string | undefined, what: string, given: string): string {
  if (value === undefined) throw new DirectoryInputError(`invalid ${what}: "${given}"`);
  return value;
}

function sorted<T>(m: ReadonlyMap<string, T>): T[] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

function publicUser(u: StoredUser): User {
  const { hash: _hash, ...user } = u;
  return user;
}

export class MemoryDirectory implements Directory {
  failing = false;
  /** how many lookups were made (to show a cache or a short cut works) */
  lookups = 0;
  readonly data: MemoryDirectoryData;

  /**
   * `domains` are local domains; `users` are added as given (lower case), without postmaster.
   * `localDomains` does what SqliteDirectory.open does: the domains, and postmaster@<first>.
   */
  constructor(init: { domains?: string[]; users?: string[]; localDomains?: string[]; data?: MemoryDirectoryData } = {}) {
    this.data = init.data ?? memoryDirectoryData();
    for (const d of init.domains ?? []) this.data.domains.add(d.toLowerCase());
    for (const u of init.users ?? []) this.data.users.set(u.toLowerCase(), { address: u.toLowerCase(), createdAt: 0 });
    const local = (init.localDomains ?? []).map((d) => need(normalizeDirectoryDomain(d), 'domain', d));
    for (const d of local) this.data.domains.add(d);
    if (local.length > 0 && !this.data.users.has(`postmaster@${local[0]}`)) {
      // RFC 5321 §4.5.1: every SMTP site must accept mail for postmaster.
      this.data.users.set(`postmaster@${local[0]}`, { address: `postmaster@${local[0]}`, createdAt: Date.now() });
    }
  }

  private check(): void {
    this.lookups++;
    if (this.failing) throw new MailError(replies.directoryFailure(), 'MAIL_ERR_DIRECTORY');
  }

  // --- lookups (DirectoryLookup) ---------------------------------------------------------

  async isLocalDomain(domain: string): Promise<boolean> {
    this.check();
    const d = normalizeDirectoryDomain(domain);
    return d !== undefined && this.data.domains.has(d);
  }
  async listDomains(): Promise<string[]> {
    this.check();
    return [...this.data.domains].sort();
  }
  private user(address: Address | string): StoredUser | undefined {
    const a = normalizeDirectoryAddress(address);
    return a === undefined ? undefined : this.data.users.get(directoryKey(a));
  }
  async findUser(address: Address | string): Promise<User | undefined> {
    this.check();
    const u = this.user(address);
    return u && publicUser(u);
  }
  async verifyPassword(address: string, password: string): Promise<boolean> {
    this.check();
    const u = this.user(address);
    return u?.hash !== undefined && (await verifyPassword(password, u.hash)) && !u.disabled;
  }
  async findAlias(name: string): Promise<Alias | undefined> {
    this.check();
    const n = normalizeAliasName(name);
    const a = n === undefined ? undefined : this.data.aliases.get(directoryKey(n));
    return a && { ...a, targets: [...a.targets] };
  }
  async findList(address: string): Promise<MailingList | undefined> {
    this.check();
    const a = normalizeDirectoryAddress(address);
    const l = a === undefined ? undefined : this.data.lists.get(directoryKey(a));
    return l && { ...l, members: [...l.members] };
  }
  async findRole(address: string): Promise<Role | undefined> {
    this.check();
    const a = normalizeDirectoryAddress(address);
    const r = a === undefined ? undefined : this.data.roles.get(directoryKey(a));
    return r && { ...r };
  }

  // --- administration (DirectoryAdmin) ---------------------------------------------------

  async addDomain(domain: string): Promise<void> {
    this.data.domains.add(need(normalizeDirectoryDomain(domain), 'domain', domain));
  }

  async listUsers(): Promise<User[]> {
    this.check();
    return sorted(this.data.users).map(publicUser);
  }
  async addUser(address: string, passwordHash?: string, name?: string): Promise<User> {
    const a = need(normalizeDirectoryAddress(address), 'address', address);
    const domain = a.slice(a.lastIndexOf('@') + 1);
    if (!this.data.domains.has(domain)) throw new DirectoryInputError(`${domain} is not a local domain`);
    if (this.data.users.has(directoryKey(a))) throw new DirectoryInputError(`user ${a} already exists`);
    const u: StoredUser = { address: a, createdAt: Date.now(), ...(name !== undefined ? { name } : {}), ...(passwordHash !== undefined ? { hash: passwordHash } : {}) };
    this.data.users.set(directoryKey(a), u);
    return publicUser(u);
  }
  async deleteUser(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    return a !== undefined && this.data.users.delete(directoryKey(a));
  }
  async setPassword(address: string, passwordHash: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    const u = a === undefined ? undefined : this.data.users.get(directoryKey(a));
    if (a === undefined || !u) return false;
    this.data.users.set(directoryKey(a), { ...u, hash: passwordHash });
    return true;
  }
  async setUserQuota(address: string, change: UserQuotaChange): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    const u = a === undefined ? undefined : this.data.users.get(directoryKey(a));
    if (a === undefined || !u) return false;
    const [storage, messages] = quotaColumns(u.quota, change);
    const { quota: _old, ...rest } = u;
    const quota = { ...(storage !== null ? { storage } : {}), ...(messages !== null ? { messages } : {}) };
    this.data.users.set(directoryKey(a), Object.keys(quota).length > 0 ? { ...rest, quota } : rest);
    return true;
  }
  async setUserDisabled(address: string, disabled: boolean): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    const u = a === undefined ? undefined : this.data.users.get(directoryKey(a));
    if (a === undefined || !u) return false;
    const { disabled: _was, ...rest } = u;
    this.data.users.set(directoryKey(a), disabled ? { ...rest, disabled: true } : rest);
    return true;
  }

  async listAliases(): Promise<Alias[]> {
    this.check();
    return sorted(this.data.aliases).map((a) => ({ ...a, targets: [...a.targets] }));
  }
  private aliasEntry(name: string, targets: readonly string[], source: string): [string, StoredAlias] {
    const n = need(normalizeAliasName(name), 'alias name', name);
    if (targets.length === 0) throw new DirectoryInputError(`alias ${n} has no targets`);
    for (const t of targets) {
      if (typeof t !== 'string' || t.trim() === '' || /[\r\n\0]/.test(t)) throw new DirectoryInputError(`alias ${n}: invalid target ${JSON.stringify(t)}`);
    }
    return [directoryKey(n), { name: n, targets: targets.map((t) => t.trim()), source }];
  }
  async setAlias(name: string, targets: readonly string[], source = 'directory'): Promise<void> {
    const [key, alias] = this.aliasEntry(name, targets, source);
    this.data.aliases.set(key, alias);
  }
  async deleteAlias(name: string): Promise<boolean> {
    const n = normalizeAliasName(name);
    return n !== undefined && this.data.aliases.delete(directoryKey(n));
  }
  async replaceAliases(source: string, aliases: readonly Alias[]): Promise<void> {
    // all checked before anything changes: a bad alias leaves the previous set in force
    const entries = aliases.map((a) => this.aliasEntry(a.name, a.targets, source));
    for (const [key, a] of [...this.data.aliases]) if (a.source === source) this.data.aliases.delete(key);
    for (const [key, a] of entries) this.data.aliases.set(key, a);
  }

  async listLists(): Promise<MailingList[]> {
    this.check();
    return sorted(this.data.lists).map((l) => ({ ...l, members: [...l.members] }));
  }
  async createList(address: string, owner: string, description?: string): Promise<MailingList> {
    const a = need(normalizeDirectoryAddress(address), 'list address', address);
    const o = need(normalizeDirectoryAddress(owner), 'owner address', owner);
    if (this.data.lists.has(directoryKey(a))) throw new DirectoryInputError(`list ${a} already exists`);
    const l: MailingList = description === undefined ? { address: a, owner: o, members: [] } : { address: a, owner: o, members: [], description };
    this.data.lists.set(directoryKey(a), l);
    return { ...l, members: [] };
  }
  private listOrThrow(address: string): [string, MailingList] {
    const a = need(normalizeDirectoryAddress(address), 'list address', address);
    const l = this.data.lists.get(directoryKey(a));
    if (!l) throw new DirectoryInputError(`no such list: ${a}`);
    return [directoryKey(a), l];
  }
  async addListMembers(address: string, members: readonly string[]): Promise<void> {
    const ms = members.map((m) => need(normalizeDirectoryAddress(m), 'member address', m));
    const [key, l] = this.listOrThrow(address);
    const out = [...l.members];
    for (const m of ms) if (!out.some((x) => directoryKey(x) === directoryKey(m))) out.push(m);
    this.data.lists.set(key, { ...l, members: out });
  }
  async removeListMembers(address: string, members: readonly string[]): Promise<void> {
    const [key, l] = this.listOrThrow(address);
    const drop = new Set(members.map((m) => normalizeDirectoryAddress(m)).filter((m) => m !== undefined).map(directoryKey));
    this.data.lists.set(key, { ...l, members: l.members.filter((m) => !drop.has(directoryKey(m))) });
  }
  async deleteList(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    return a !== undefined && this.data.lists.delete(directoryKey(a));
  }
  /** Stores a list exactly as given, members unchecked (see the module header). */
  seedList(list: MailingList): void {
    this.data.lists.set(list.address.toLowerCase(), { ...list, members: [...list.members] });
  }

  async listRoles(): Promise<Role[]> {
    this.check();
    return sorted(this.data.roles).map((r) => ({ ...r }));
  }
  /** Creates or reassigns a role; a description left undefined keeps the current one. */
  async setRole(address: string, holder: string, description?: string): Promise<void> {
    const a = need(normalizeDirectoryAddress(address), 'role address', address);
    const h = need(normalizeDirectoryAddress(holder), 'holder address', holder);
    const kept = description ?? this.data.roles.get(directoryKey(a))?.description;
    this.data.roles.set(directoryKey(a), kept === undefined ? { address: a, holder: h } : { address: a, holder: h, description: kept });
  }
  async deleteRole(address: string): Promise<boolean> {
    const a = normalizeDirectoryAddress(address);
    return a !== undefined && this.data.roles.delete(directoryKey(a));
  }

  async find(text: string): Promise<DirectoryMatch[]> {
    this.check();
    const p = text.trim().toLowerCase();
    const has = (...fields: (string | undefined)[]): boolean => fields.some((f) => (f ?? '').toLowerCase().includes(p));
    const out: DirectoryMatch[] = [];
    for (const d of [...this.data.domains].sort()) if (has(d)) out.push({ kind: 'domain', address: d });
    for (const u of sorted(this.data.users)) {
      if (has(u.address, u.name)) out.push(u.name === undefined ? { kind: 'user', address: u.address } : { kind: 'user', address: u.address, detail: u.name });
    }
    // alias targets are searched as the backend stores them (a JSON array)
    for (const a of sorted(this.data.aliases)) if (has(a.name, JSON.stringify(a.targets))) out.push({ kind: 'alias', address: a.name, detail: a.targets.join(', ') });
    for (const l of sorted(this.data.lists)) if (has(l.address, l.owner, l.description)) out.push({ kind: 'list', address: l.address, detail: l.description ?? `owner ${l.owner}` });
    for (const r of sorted(this.data.roles)) {
      if (has(r.address, r.holder, r.description)) out.push({ kind: 'role', address: r.address, detail: `held by ${r.holder}${r.description ? ` (${r.description})` : ''}` });
    }
    return out;
  }

  async checkIntegrity(): Promise<string[]> {
    return [];
  }

  async close(): Promise<void> {}
}
