/**
 * @module sqlite-directory-find
 * The directory's search (`correio find`, the console's search box) on SQLite: every domain,
 * user, alias, list and role whose address, name, targets, owner, holder or description contains
 * the text, case-insensitively, in that order of kinds and by key within each.
 * Standards: none.
 * Security: the text is a bound LIKE pattern with its wildcards escaped (likePattern).
 * Limitations: a substring match over every row: fine for a site's directory, not an index.
 */
import type Database from 'better-sqlite3';
import type { DirectoryMatch } from './directory-backend.js';
import { likePattern, matchDetail, type AliasRow, type ListRow, type RoleRow } from './directory-rows.js';

/** The matches for `text`; `sql` gives the handle's prepared statement for a query text. */
export function findInSqliteDirectory(sql: (text: string) => Database.Statement, text: string): DirectoryMatch[] {
  const p = likePattern(text.trim());
  const like = (col: string): string => `lower(${col}) LIKE @p ESCAPE '\\'`;
  const out: DirectoryMatch[] = [];
  for (const r of sql(`SELECT name FROM domains WHERE ${like('name')} ORDER BY name`).all({ p }) as { name: string }[]) {
    out.push({ kind: 'domain', address: r.name });
  }
  const users = sql(`SELECT address, name FROM users WHERE ${like('address')} OR ${like("coalesce(name, '')")} ORDER BY key`)
    .all({ p }) as { address: string; name: string | null }[];
  for (const r of users) out.push(r.name === null ? { kind: 'user', address: r.address } : { kind: 'user', address: r.address, detail: r.name });
  const aliases = sql(`SELECT name, targets, source FROM aliases WHERE ${like('name')} OR ${like('targets')} ORDER BY key`)
    .all({ p }) as AliasRow[];
  for (const r of aliases) out.push({ kind: 'alias', address: r.name, detail: matchDetail.alias(r) });
  const lists = sql(
      `SELECT key, address, owner, description FROM lists WHERE ${like('address')} OR ${like('owner')}
         OR ${like("coalesce(description, '')")} ORDER BY key`,
    )
    .all({ p }) as ListRow[];
  for (const r of lists) out.push({ kind: 'list', address: r.address, detail: matchDetail.list(r) });
  const roles = sql(
      `SELECT address, holder, description FROM roles WHERE ${like('address')} OR ${like('holder')}
         OR ${like("coalesce(description, '')")} ORDER BY key`,
    )
    .all({ p }) as RoleRow[];
  for (const r of roles) out.push({ kind: 'role', address: r.address, detail: matchDetail.role(r) });
  return out;
}
