/**
 * @module directory-rows
 * What the SQL directory backends (SQLite, PostgreSQL) share between their SQL and the core
 * types: input checks of changes, row → User/Alias/Role/MailingList, the failure every storage
 * error becomes, the LIKE pattern of find(), and password verification that spends the same
 * time for unknown users.
 * Standards: DESIGN.md §1 (lookups have three outcomes: a storage failure is 451 4.3.0).
 * Security: alias targets with CR, LF or NUL are refused; unknown users cost a real scrypt
 *   check, so timing does not tell users from non-users.
 * Limitations: none.
 */
import { MailError, replies, type Alias, type MailingList, type Role, type User, type UserQuota, type UserQuotaChange } from '../core/index.js';
import { DirectoryInputError, directoryKey, normalizeAliasName } from './directory-address.js';
import { hashPassword, verifyPassword } from './password.js';

export interface UserRow {
  address: string;
  name: string | null;
  password_hash: string | null;
  created_at: number | string;
  quota_storage?: number | string | null;
  quota_messages?: number | string | null;
  disabled?: number | boolean | null;
}

/** The user columns both SQL backends select (their tables have the same columns). */
export const userColumns = 'address, name, password_hash, created_at, quota_storage, quota_messages, disabled';
export interface AliasRow {
  name: string;
  targets: string;
  source: string;
}
export interface ListRow {
  key: string;
  address: string;
  owner: string;
  description: string | null;
}
export interface RoleRow {
  address: string;
  holder: string;
  description: string | null;
}

/** DESIGN.md §1: a failed directory lookup is temporary (451 4.3.0), never "user unknown". */
export function directoryFailure(cause: unknown): MailError {
  return new MailError(replies.localError(), 'MAIL_ERR_DIRECTORY', { cause });
}

/** Bad input and MailErrors pass; anything else (the storage failing) becomes directoryFailure. */
export function asDirectoryError(err: unknown): Error {
  if (err instanceof DirectoryInputError || err instanceof MailError) return err;
  return directoryFailure(err);
}

export function need(value: string | undefined, what: string, given: string): string {
  if (value === undefined) throw new DirectoryInputError(`invalid ${what}: "${given}"`);
  return value;
}

export function toUser(r: UserRow): User {
  const quota: { storage?: number; messages?: number } = {};
  if (r.quota_storage !== null && r.quota_storage !== undefined) quota.storage = Number(r.quota_storage);
  if (r.quota_messages !== null && r.quota_messages !== undefined) quota.messages = Number(r.quota_messages);
  return {
    address: r.address,
    ...(r.name === null ? {} : { name: r.name }),
    createdAt: Number(r.created_at),
    ...(Object.keys(quota).length > 0 ? { quota } : {}),
    ...(r.disabled ? { disabled: true } : {}),
  };
}

/**
 * A quota change checked and merged over the user's current quota: the stored columns
 * [storage, messages] (null: the configured default). Negative, fractional or unsafe numbers
 * are bad input.
 */
export function quotaColumns(current: UserQuota | undefined, change: UserQuotaChange): [number | null, number | null] {
  const pick = (what: 'storage' | 'messages'): number | null => {
    const v = change[what];
    if (v === undefined) return current?.[what] ?? null;
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new DirectoryInputError(`invalid ${what} quota: ${String(v)} (a whole number >= 0; 0 is no limit)`);
    }
    return v;
  };
  return [pick('storage'), pick('messages')];
}

/** A password check that takes the same time for unknown and disabled users, and fails for both. */
export async function checkUserPassword(row: UserRow | undefined, password: string): Promise<boolean> {
  const ok = await checkPassword(row?.password_hash, password);
  return ok && !row?.disabled;
}

export function toAlias(r: AliasRow): Alias {
  return { name: r.name, targets: JSON.parse(r.targets) as string[], source: r.source };
}

export function toRole(r: RoleRow): Role {
  return r.description === null
    ? { address: r.address, holder: r.holder }
    : { address: r.address, holder: r.holder, description: r.description };
}

export function toList(r: ListRow, members: string[]): MailingList {
  return r.description === null
    ? { address: r.address, owner: r.owner, members }
    : { address: r.address, owner: r.owner, members, description: r.description };
}

/** A checked alias as stored: [key, normalised name, targets as JSON]. */
export function aliasRow(name: string, targets: readonly string[]): [string, string, string] {
  const n = need(normalizeAliasName(name), 'alias name', name);
  if (targets.length === 0) throw new DirectoryInputError(`alias ${n} has no targets`);
  for (const t of targets) {
    if (typeof t !== 'string' || t.trim() === '' || /[\r\n\0]/.test(t)) {
      throw new DirectoryInputError(`alias ${n}: invalid target ${JSON.stringify(t)}`);
    }
  }
  return [directoryKey(n), n, JSON.stringify(targets.map((t) => t.trim()))];
}

/** A case-insensitive substring LIKE pattern with \ as the escape. */
export function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A hash of a random password, verified against for unknown users so timing reveals nothing. */
let dummyHash: Promise<string> | undefined;

/** Verifies `password` against a stored hash; no hash (unknown user, no password) → false, in the same time. */
export async function checkPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (hash === null || hash === undefined) {
    dummyHash ??= hashPassword(Math.random().toString(36));
    await verifyPassword(password, await dummyHash);
    return false;
  }
  return verifyPassword(password, hash);
}

/** find()'s detail text of an alias, a list and a role. */
export const matchDetail = {
  alias: (r: AliasRow): string => (JSON.parse(r.targets) as string[]).join(', '),
  list: (r: ListRow): string => r.description ?? `owner ${r.owner}`,
  role: (r: RoleRow): string => `held by ${r.holder}${r.description ? ` (${r.description})` : ''}`,
};

/**
 * A whole directory, password hashes included: what `correio migrate` copies from one backend
 * to another (never printed, never sent anywhere else).
 */
export interface DirectoryDump {
  domains: { name: string; createdAt: number }[];
  users: {
    address: string; name: string | null; passwordHash: string | null; createdAt: number;
    quotaStorage?: number | null; quotaMessages?: number | null; disabled?: boolean;
  }[];
  aliases: Alias[];
  lists: MailingList[];
  roles: Role[];
}

/** A user row as a dump's user (what `correio migrate` copies). */
export function dumpUser(r: UserRow): DirectoryDump['users'][number] {
  return {
    address: r.address, name: r.name, passwordHash: r.password_hash, createdAt: Number(r.created_at),
    quotaStorage: r.quota_storage === null || r.quota_storage === undefined ? null : Number(r.quota_storage),
    quotaMessages: r.quota_messages === null || r.quota_messages === undefined ? null : Number(r.quota_messages),
    disabled: Boolean(r.disabled),
  };
}

/** How many entries of each kind a dump (or a directory) holds: what a migration verifies. */
export function dumpCounts(d: DirectoryDump): Record<keyof DirectoryDump, number> {
  return { domains: d.domains.length, users: d.users.length, aliases: d.aliases.length, lists: d.lists.length, roles: d.roles.length };
}

/** The statements a dump is written with, each backend's SQL keyed by kind (see dumpRows). */
export type DumpStatement = 'domain' | 'user' | 'alias' | 'list' | 'member' | 'role';

/**
 * A dump as the rows both SQL backends write, in an order that keeps references whole (a
 * list before its members). Parameters, by kind: domain [name, created_at]; user [key,
 * address, name, password_hash, created_at, quota_storage, quota_messages, disabled]; alias
 * [key, name, targets, source, updated_at]; list [key, address, owner, description,
 * created_at]; member [list_key, member_key, member]; role [key, address, holder,
 * description, updated_at]. Aliases are checked as setAlias checks them.
 */
export function* dumpRows(d: DirectoryDump, now: number): Generator<[DumpStatement, unknown[]]> {
  for (const x of d.domains) yield ['domain', [x.name, x.createdAt]];
  for (const u of d.users) {
    yield ['user', [directoryKey(u.address), u.address, u.name, u.passwordHash, u.createdAt, u.quotaStorage ?? null, u.quotaMessages ?? null, u.disabled ?? false]];
  }
  for (const a of d.aliases) yield ['alias', [...aliasRow(a.name, a.targets), a.source ?? 'directory', now]];
  for (const l of d.lists) {
    const key = directoryKey(l.address);
    yield ['list', [key, l.address, l.owner, l.description ?? null, now]];
    for (const m of l.members) yield ['member', [key, directoryKey(m), m]];
  }
  for (const r of d.roles) yield ['role', [directoryKey(r.address), r.address, r.holder, r.description ?? null, now]];
}
