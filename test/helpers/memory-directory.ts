/**
 * @module memory-directory
 * A small in-memory Directory for tests of the resolver, transports and CLI pieces that code
 * against the core Directory interface. Not a backend: no persistence, plain-text "hashes".
 * Set `failing = true` to make every lookup throw a temporary failure (451 4.4.3), as a
 * broken database would.
 */
import { MailError, replies, type Address, type Alias, type Directory, type MailingList, type Role, type User } from '../../src/core/index.js';

function key(a: Address | string): string {
  if (typeof a === 'string') return a.toLowerCase();
  return `${a.local}@${a.domain}`.toLowerCase();
}

export class MemoryDirectory implements Directory {
  failing = false;
  /** how many lookups were made (to show a cache or a short cut works) */
  lookups = 0;
  private readonly domains = new Set<string>();
  private readonly users = new Map<string, User & { password?: string }>();
  private readonly aliases = new Map<string, Alias>();
  private readonly lists = new Map<string, MailingList>();
  private readonly roles = new Map<string, Role>();

  constructor(init: { domains?: string[]; users?: string[] } = {}) {
    for (const d of init.domains ?? []) this.domains.add(d.toLowerCase());
    for (const u of init.users ?? []) this.users.set(u.toLowerCase(), { address: u.toLowerCase(), createdAt: 0 });
  }

  private check(): void {
    this.lookups++;
    if (this.failing) throw new MailError(replies.directoryFailure(), 'MAIL_ERR_DIRECTORY');
  }

  async isLocalDomain(domain: string): Promise<boolean> {
    this.check();
    return this.domains.has(domain.toLowerCase());
  }
  async listDomains(): Promise<string[]> {
    this.check();
    return [...this.domains];
  }
  async addDomain(domain: string): Promise<void> {
    this.domains.add(domain.toLowerCase());
  }

  async findUser(address: Address | string): Promise<User | undefined> {
    this.check();
    const u = this.users.get(key(address));
    return u ? { address: u.address, createdAt: u.createdAt, ...(u.name ? { name: u.name } : {}) } : undefined;
  }
  async listUsers(): Promise<User[]> {
    this.check();
    return [...this.users.values()].map((u) => ({ address: u.address, createdAt: u.createdAt }));
  }
  async addUser(address: string, passwordHash?: string, name?: string): Promise<User> {
    const u = { address: address.toLowerCase(), createdAt: Date.now(), ...(name ? { name } : {}), ...(passwordHash ? { password: passwordHash } : {}) };
    this.users.set(u.address, u);
    return { address: u.address, createdAt: u.createdAt };
  }
  async deleteUser(address: string): Promise<boolean> {
    return this.users.delete(address.toLowerCase());
  }
  async setPassword(address: string, passwordHash: string): Promise<boolean> {
    const u = this.users.get(address.toLowerCase());
    if (!u) return false;
    u.password = passwordHash;
    return true;
  }
  async verifyPassword(address: string, password: string): Promise<boolean> {
    return this.users.get(address.toLowerCase())?.password === password;
  }

  async findAlias(name: string): Promise<Alias | undefined> {
    this.check();
    return this.aliases.get(name.toLowerCase());
  }
  async listAliases(): Promise<Alias[]> {
    this.check();
    return [...this.aliases.values()];
  }
  async setAlias(name: string, targets: readonly string[], source = 'directory'): Promise<void> {
    this.aliases.set(name.toLowerCase(), { name: name.toLowerCase(), targets: [...targets], source });
  }
  async deleteAlias(name: string): Promise<boolean> {
    return this.aliases.delete(name.toLowerCase());
  }

  async findList(address: string): Promise<MailingList | undefined> {
    this.check();
    return this.lists.get(address.toLowerCase());
  }
  async listLists(): Promise<MailingList[]> {
    this.check();
    return [...this.lists.values()];
  }
  async createList(address: string, owner: string, description?: string): Promise<MailingList> {
    const l: MailingList = { address: address.toLowerCase(), owner, members: [], ...(description ? { description } : {}) };
    this.lists.set(l.address, l);
    return l;
  }
  async addListMembers(address: string, members: readonly string[]): Promise<void> {
    const l = this.lists.get(address.toLowerCase());
    if (!l) throw new Error(`no such list: ${address}`);
    const set = [...l.members];
    for (const m of members) if (!set.some((x) => x.toLowerCase() === m.toLowerCase())) set.push(m);
    this.lists.set(l.address, { ...l, members: set });
  }
  async removeListMembers(address: string, members: readonly string[]): Promise<void> {
    const l = this.lists.get(address.toLowerCase());
    if (!l) throw new Error(`no such list: ${address}`);
    const drop = new Set(members.map((m) => m.toLowerCase()));
    this.lists.set(l.address, { ...l, members: l.members.filter((m) => !drop.has(m.toLowerCase())) });
  }

  async findRole(address: string): Promise<Role | undefined> {
    this.check();
    return this.roles.get(address.toLowerCase());
  }
  async listRoles(): Promise<Role[]> {
    this.check();
    return [...this.roles.values()];
  }
  async setRole(address: string, holder: string, description?: string): Promise<void> {
    this.roles.set(address.toLowerCase(), { address: address.toLowerCase(), holder, ...(description ? { description } : {}) });
  }

  async close(): Promise<void> {}
}
