/**
 * @module directory-operations
 * The operator's changes to the directory, each with its input rules, shared by the `correio`
 * commands (user, alias, list, role) and the admin API: one function per operation, so both
 * faces accept and refuse exactly the same things with the same words.
 * Standards: RFC 5321 §2.3.11 (mailbox = local-part@domain); aliases(5) (targets: addresses,
 *   |command, /file, :include:/file, error:5.x.x text, \user; a bare name applies to every
 *   local domain); seed §2 (roles), §2.1 (lists).
 * Security: passwords are stored as scrypt hashes only. A list member or owner and a role
 *   holder must be an address by resolve's parseDirectoryTarget, the rule delivery applies, so
 *   no "|command" or "/file" that looks like an address is ever stored there. Pipe and file
 *   alias targets can be set only by whoever may call these (the operator).
 * Limitations: deleting a user keeps the mailbox's files (mail is never removed by a
 *   directory change).
 */
import type { Alias, DirectoryAdmin, DirectoryLookup, MailingList, Role, User, UserQuotaChange } from '../core/index.js';
import { DirectoryInputError, hashPassword, normalizeDirectoryAddress, parseAliasName, parseTarget } from '../directory/index.js';
import { parseSize } from '../util/index.js';
import { listIdFor, listOwnerAddress, parseDirectoryTarget } from '../resolve/index.js';
import { AdminError } from './admin-error.js';

/** local-part@domain, normalised; otherwise AdminError naming `label`. */
export function checkedAddress(text: string, label: string): string {
  const a = normalizeDirectoryAddress(text);
  if (a === undefined) throw new AdminError(`invalid ${label} "${text}": expected local-part@domain`);
  return a;
}

/**
 * An address that delivery will follow: `what`/`plural` name the entry in the reason
 * ("a list member", "members"); alias-target forms are refused.
 */
export function checkedTargetAddress(text: string, label: string, what: string, plural: string): string {
  const t = parseDirectoryTarget(text, what, plural);
  if (!t.ok) throw new AdminError(`invalid ${label} "${text}": ${t.reason}`);
  return checkedAddress(text, label);
}

/** What these operations need of a directory: the admin face and two lookups. */
export type AdminDirectory = DirectoryAdmin & Pick<DirectoryLookup, 'isLocalDomain' | 'findList'>;

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

async function requireLocalDomain(dir: Pick<DirectoryLookup, 'isLocalDomain'>, address: string): Promise<void> {
  const domain = domainOf(address);
  if (!(await dir.isLocalDomain(domain))) throw new AdminError(`${domain} is not a local domain`);
}

/** A user as `user list --json` prints it and the admin API returns it (quota: the user's own, null fields: the default). */
export function userJson(u: User): {
  address: string; name: string | null; createdAt: string; disabled: boolean; quota: { storage: number | null; messages: number | null };
} {
  return {
    address: u.address, name: u.name ?? null, createdAt: new Date(u.createdAt).toISOString(), disabled: u.disabled === true,
    quota: { storage: u.quota?.storage ?? null, messages: u.quota?.messages ?? null },
  };
}

/**
 * A quota value as people write it: a size ("500MB", or octets for storage), a count (messages),
 * "none" or 0 for no limit, "default" (or null) for the configured default.
 */
export function parseQuotaValue(what: 'storage' | 'messages', v: unknown): number | null {
  if (v === null || v === 'default') return null;
  if (v === 'none') return 0;
  if (what === 'messages') {
    const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
    throw new AdminError(`invalid messages quota ${JSON.stringify(v)}: expected a whole number (0 or "none": no limit; "default")`);
  }
  try {
    if (typeof v === 'string' || typeof v === 'number') return parseSize(v);
  } catch {
    // the message below names the value and the forms
  }
  throw new AdminError(`invalid storage quota ${JSON.stringify(v)}: expected a size such as "500MB" or "2GB" (0 or "none": no limit; "default")`);
}

/** Sets a user's quota (fields left out are kept); returns the user as it is now. */
export async function setUserQuota(dir: DirectoryAdmin & Pick<DirectoryLookup, 'findUser'>, text: string, change: UserQuotaChange): Promise<User> {
  const a = checkedAddress(text, 'address');
  try {
    if (!(await dir.setUserQuota(a, change))) throw new AdminError(`no such user: ${a}`, 'not-found');
  } catch (err) {
    if (err instanceof DirectoryInputError) throw new AdminError(err.message);
    throw err;
  }
  const u = await dir.findUser(a);
  if (u === undefined) throw new AdminError(`no such user: ${a}`, 'not-found');
  return u;
}

/** Disables (or enables) an account: no login anywhere, mail to it refused (docs/quota.md). */
export async function setUserDisabled(dir: DirectoryAdmin, text: string, disabled: boolean): Promise<string> {
  const a = checkedAddress(text, 'address');
  if (!(await dir.setUserDisabled(a, disabled))) throw new AdminError(`no such user: ${a}`, 'not-found');
  return a;
}

/** A role as `role list --json` prints it and the admin API returns it. */
export function roleJson(r: Role): { address: string; holder: string; description: string | null } {
  return { address: r.address, holder: r.holder, description: r.description ?? null };
}

/** An alias as `alias list --json` prints it and the admin API returns it. */
export function aliasJson(a: Alias): { name: string; targets: readonly string[]; source: string } {
  return { name: a.name, targets: a.targets, source: a.source ?? 'directory' };
}

export async function addUser(dir: DirectoryAdmin, text: string, password?: string, name?: string): Promise<User> {
  const a = checkedAddress(text, 'address');
  if (password === '') throw new AdminError('empty password');
  return dir.addUser(a, password !== undefined ? await hashPassword(password) : undefined, name);
}

export async function deleteUser(dir: DirectoryAdmin, text: string): Promise<string> {
  const a = checkedAddress(text, 'address');
  if (!(await dir.deleteUser(a))) throw new AdminError(`no such user: ${a}`, 'not-found');
  return a;
}

export async function setUserPassword(dir: DirectoryAdmin, text: string, password: string): Promise<string> {
  const a = checkedAddress(text, 'address');
  if (password === '') throw new AdminError('empty password');
  if (!(await dir.setPassword(a, await hashPassword(password)))) throw new AdminError(`no such user: ${a}`, 'not-found');
  return a;
}

/** The names an alias name stands for: itself, or one per local domain for a bare name. */
export async function aliasNames(dir: Pick<DirectoryAdmin, 'listDomains'>, text: string): Promise<string[]> {
  const n = parseAliasName(text);
  if (!n.ok) throw new AdminError(`invalid alias name "${text}": ${n.message}`);
  if (n.target.includes('@')) return [n.target];
  return (await dir.listDomains()).map((d) => `${n.target}@${d}`);
}

/** Checks alias targets with the aliases(5) parser; relative paths are read from `baseDir`. */
export function checkedAliasTargets(targets: readonly string[], baseDir: string): string[] {
  if (targets.length === 0) throw new AdminError('an alias needs at least one target');
  return targets.map((t) => {
    const r = parseTarget(t, baseDir);
    if (!r.ok) throw new AdminError(`invalid target "${t}": ${r.message}`);
    return r.target;
  });
}

/** Sets NAME's targets (replacing them); returns the names set, with the checked targets. */
export async function setAlias(dir: DirectoryAdmin, name: string, targets: readonly string[], baseDir: string): Promise<{ names: string[]; targets: string[] }> {
  const checked = checkedAliasTargets(targets, baseDir);
  const names = await aliasNames(dir, name);
  for (const n of names) await dir.setAlias(n, checked, 'directory');
  return { names, targets: checked };
}

/** Deletes an alias (a bare name: in every local domain); returns the names deleted. */
export async function deleteAlias(dir: DirectoryAdmin, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of await aliasNames(dir, name)) if (await dir.deleteAlias(n)) out.push(n);
  if (out.length === 0) throw new AdminError(`no such alias: ${name}`, 'not-found');
  return out;
}

export async function createList(dir: AdminDirectory, text: string, ownerText: string, description?: string): Promise<MailingList> {
  const a = checkedAddress(text, 'list address');
  const owner = checkedTargetAddress(ownerText, 'owner address', 'a list owner', 'owners');
  await requireLocalDomain(dir, a);
  return dir.createList(a, owner, description);
}

async function requireList(dir: Pick<DirectoryLookup, 'findList'>, a: string): Promise<MailingList> {
  const l = await dir.findList(a);
  if (!l) throw new AdminError(`no such list: ${a}`, 'not-found');
  return l;
}

export async function addListMembers(dir: DirectoryAdmin, text: string, members: readonly string[]): Promise<{ list: string; members: string[] }> {
  const a = checkedAddress(text, 'list address');
  if (members.length === 0) throw new AdminError('no members given');
  const ms = members.map((m) => checkedTargetAddress(m, 'member address', 'a list member', 'members'));
  await dir.addListMembers(a, ms);
  return { list: a, members: ms };
}

/** Removes members; every one must have been a member (otherwise AdminError not-found, after removing the others). */
export async function removeListMembers(dir: AdminDirectory, text: string, members: readonly string[]): Promise<{ list: string; members: string[] }> {
  const a = checkedAddress(text, 'list address');
  const ms = members.map((m) => checkedAddress(m, 'member address'));
  const before = await requireList(dir, a);
  const have = new Set(before.members.map((m) => m.toLowerCase()));
  await dir.removeListMembers(a, ms);
  const missing = ms.filter((m) => !have.has(m.toLowerCase()));
  if (missing.length > 0) throw new AdminError(`${a}: not members: ${missing.join(', ')}`, 'not-found');
  return { list: a, members: ms };
}

export interface ListInfo {
  readonly address: string;
  readonly owner: string;
  readonly description: string | null;
  /** the envelope sender of the list's copies (LIST-owner@domain) */
  readonly sender: string;
  /** RFC 2919 List-Id, with its angle brackets */
  readonly listId: string;
  readonly members: readonly string[];
}

export function listInfo(l: MailingList): ListInfo {
  return {
    address: l.address,
    owner: l.owner,
    description: l.description ?? null,
    sender: listOwnerAddress(l.address),
    listId: `<${listIdFor(l.address)}>`,
    members: l.members,
  };
}

export async function showList(dir: AdminDirectory, text: string): Promise<ListInfo> {
  return listInfo(await requireList(dir, checkedAddress(text, 'list address')));
}

export async function deleteList(dir: DirectoryAdmin, text: string): Promise<string> {
  const a = checkedAddress(text, 'list address');
  if (!(await dir.deleteList(a))) throw new AdminError(`no such list: ${a}`, 'not-found');
  return a;
}

/** Makes the holder hold ROLE (created when absent, handed over when held). */
export async function setRole(dir: AdminDirectory, roleText: string, holderText: string, description?: string): Promise<{ role: string; holder: string }> {
  const r = checkedAddress(roleText, 'role address');
  const h = checkedTargetAddress(holderText, 'holder address', 'a role holder', 'holders');
  await requireLocalDomain(dir, r);
  await dir.setRole(r, h, description);
  return { role: r, holder: h };
}

export async function deleteRole(dir: DirectoryAdmin, roleText: string): Promise<string> {
  const r = checkedAddress(roleText, 'role address');
  if (!(await dir.deleteRole(r))) throw new AdminError(`no such role: ${r}`, 'not-found');
  return r;
}
