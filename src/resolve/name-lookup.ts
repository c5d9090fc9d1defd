/**
 * @module name-lookup
 * What a local name is, for the resolver and for `correio check`: an alias (directory, then
 * the aliases file), a role, a list, a user (each tried again without a `+detail`), a list's
 * owner address, postmaster, or the domain's catch-all, in that order.
 * Standards: RFC 5233 (subaddress), RFC 5321 §4.5.1 (postmaster); list-names for owners.
 * Security: local parts holding "@", "%" or "!" (or empty) are never looked up as names: they
 *   would be routes (no relay through `user%other@here`), only the catch-all may take them.
 * Limitations: none.
 */
import { splitDetail } from '../address/index.js';
import type { Alias, DirectoryLookup, MailingList, Role, User } from '../core/index.js';
import { listLocalFromOwner } from './list-names.js';

export type Found =
  | { what: 'alias'; name: string; alias: Alias; source: string; detail?: string }
  | { what: 'catch-all'; name: string; alias: Alias; source: string }
  | { what: 'role'; name: string; role: Role; detail?: string }
  | { what: 'list'; name: string; list: MailingList; detail?: string }
  | { what: 'user'; name: string; user: User; detail?: string }
  | { what: 'list-owner'; name: string; list: MailingList }
  | { what: 'postmaster'; name: string };

/** Local parts that would be a route if read as one: never looked up, never relayed. */
export function isRouteLike(local: string): boolean {
  return /[@%!]/.test(local) || local === '';
}

/** `"john doe"` → `john doe` for lookups; other local parts unchanged. */
export function lookupForm(local: string): string {
  if (local.length >= 2 && local.startsWith('"') && local.endsWith('"')) return local.slice(1, -1).replace(/\\(.)/g, '$1');
  return local;
}

export class NameLookup {
  constructor(
    private readonly directory: DirectoryLookup,
    private readonly fileAliases: () => ReadonlyMap<string, Alias>,
    /** sub-address separator ("" turns sub-addressing off) */
    private readonly delimiter: string,
  ) {}

  /** What a local name is: alias, role, list, user (then without +detail), list owner, postmaster, catch-all. */
  async lookup(local: string, domain: string): Promise<Found | undefined> {
    if (!isRouteLike(local)) {
      const whole = await this.lookupName(local, domain);
      if (whole) return whole;
      const { base, detail } = splitDetail(local, this.delimiter);
      if (detail !== undefined) {
        const f = await this.lookupName(base, domain);
        if (f) return { ...f, detail };
      }
      const listLocal = listLocalFromOwner(local);
      if (listLocal !== undefined) {
        const list = await this.directory.findList(`${listLocal}@${domain}`.toLowerCase());
        if (list) return { what: 'list-owner', name: `${local}@${domain}`.toLowerCase(), list };
      }
      if (local.toLowerCase() === 'postmaster') return { what: 'postmaster', name: `postmaster@${domain}` };
    }
    const catchAll = `@${domain}`;
    const ca = (await this.directory.findAlias(catchAll)) ?? this.fileAliases().get(catchAll);
    if (ca) return { what: 'catch-all', name: catchAll, alias: ca, source: ca.source ?? 'directory' };
    return undefined;
  }

  private async lookupName(local: string, domain: string): Promise<Extract<Found, { what: 'alias' | 'role' | 'list' | 'user' }> | undefined> {
    const name = `${local}@${domain}`.toLowerCase();
    // a backend that reads the four tables at once (findName) answers them in one read
    const all = this.directory.findName ? await this.directory.findName(local, domain) : undefined;
    const alias = all ? all.alias : await this.directory.findAlias(name);
    if (alias) return { what: 'alias', name, alias, source: alias.source ?? 'directory' };
    const file = this.fileAliases();
    const fileAlias = file.get(name) ?? file.get(local.toLowerCase());
    if (fileAlias) return { what: 'alias', name, alias: fileAlias, source: fileAlias.source ?? 'aliases file' };
    const role = all ? all.role : await this.directory.findRole(name);
    if (role) return { what: 'role', name, role };
    const list = all ? all.list : await this.directory.findList(name);
    if (list) return { what: 'list', name, list };
    const user = all ? all.user : await this.directory.findUser({ local, domain });
    if (user) return { what: 'user', name, user };
    return undefined;
  }
}
