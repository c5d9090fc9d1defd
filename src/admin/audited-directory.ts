/**
 * @module audited-directory
 * A directory whose changes are told as they are made: every successful change (domain add,
 * user add/delete/password/quota/disable/enable, alias set/delete/import, list create/delete
 * and members, role set/delete) is given to `record` as one DirectoryChange: the action, the
 * entry, and what changed (an alias's or role's earlier value too). The CLI and the admin API
 * wrap the directory they change with it, each with its own record (who did it, where it goes).
 * Standards: none.
 * Security: password hashes are never recorded (a password change says only that it changed);
 *   nothing is recorded for a change that did not happen (deleting what was not there).
 * Limitations: a change made with another tool (SQL, another correio's older version) is not
 *   recorded; reads are passed through untouched.
 */
import type { Directory, DirectoryAdmin, DirectoryLookup, UserQuotaChange } from '../core/index.js';

/** One change, as the admin log and serve's log carry it (docs/logging.md): `action` and fields. */
export interface DirectoryChange {
  readonly action: string;
  readonly [field: string]: unknown;
}

type Changes = Partial<Record<keyof DirectoryAdmin, (dir: DirectoryLookup, args: unknown[], result: unknown) => Promise<DirectoryChange | undefined>>>;

const str = (v: unknown): string => String(v);
const gone = (result: unknown): boolean => result === false;

/** What each changing method records: undefined when nothing changed. */
const changes: Changes = {
  addDomain: async (_d, [domain]) => ({ action: 'domain add', domain: str(domain).toLowerCase() }),
  addUser: async (_d, [, hash, name], user) => ({
    action: 'user add', address: (user as { address: string }).address, password: hash !== undefined ? 'set' : 'none', ...(name !== undefined && { name }),
  }),
  deleteUser: async (_d, [address], r) => (gone(r) ? undefined : { action: 'user delete', address: str(address) }),
  setPassword: async (_d, [address], r) => (gone(r) ? undefined : { action: 'user password', address: str(address) }),
  setUserQuota: async (_d, [address, change], r) => (gone(r) ? undefined : { action: 'user quota', address: str(address), quota: change as UserQuotaChange }),
  setUserDisabled: async (_d, [address, disabled], r) => (gone(r) ? undefined : { action: disabled ? 'user disable' : 'user enable', address: str(address) }),
  setAlias: async (_d, [name, targets]) => ({ action: 'alias set', name: str(name), targets }),
  deleteAlias: async (_d, [name], r) => (gone(r) ? undefined : { action: 'alias delete', name: str(name) }),
  replaceAliases: async (_d, [source, aliases]) => ({ action: 'alias import', source, count: (aliases as unknown[]).length }),
  createList: async (_d, [address, owner, description]) => ({ action: 'list create', address: str(address), owner, ...(description !== undefined && { description }) }),
  addListMembers: async (_d, [address, members]) => ({ action: 'list add', address: str(address), members }),
  removeListMembers: async (_d, [address, members]) => ({ action: 'list remove', address: str(address), members }),
  deleteList: async (_d, [address], r) => (gone(r) ? undefined : { action: 'list delete', address: str(address) }),
  setRole: async (_d, [address, holder, description]) => ({ action: 'role set', address: str(address), holder, ...(description !== undefined && { description }) }),
  deleteRole: async (_d, [address], r) => (gone(r) ? undefined : { action: 'role delete', address: str(address) }),
};

/** The earlier value of what a change replaces or removes, recorded as `was`. */
async function earlier(dir: DirectoryLookup, method: string, args: unknown[]): Promise<unknown> {
  try {
    if (method === 'setAlias' || method === 'deleteAlias') return (await dir.findAlias(str(args[0])))?.targets;
    if (method === 'setRole' || method === 'deleteRole') return (await dir.findRole(str(args[0])))?.holder;
  } catch {
    // the change itself will say what is wrong
  }
  return undefined;
}

/** `dir` with every successful change given to `record` (see the module header). */
export function auditedDirectory<D extends Directory>(dir: D, record: (change: DirectoryChange) => void): D {
  return new Proxy(dir, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const describe = typeof prop === 'string' ? changes[prop as keyof DirectoryAdmin] : undefined;
      // bound to the backend itself: its private fields are not the proxy's
      if (describe === undefined) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]): Promise<unknown> => {
        const was = await earlier(target, prop as string, args);
        const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const change = await describe(target, args, result);
        if (change !== undefined) record(was !== undefined ? { ...change, was } : change);
        return result;
      };
    },
  });
}
