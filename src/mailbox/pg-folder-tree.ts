/**
 * @module pg-folder-tree
 * The folders of the PostgreSQL mailboxes as a tree of names: folders as rows of
 * `mail_folders` (names as the Maildir backend's, "." between levels, INBOX the row named ""),
 * the default folders made at first login with their special uses, a use given by CREATE kept
 * in the row, and subscriptions (`mail_subscriptions`). The messages inside are
 * pg-mail-folders' concern (PgMailFolders extends this class, as MaildirFolders extends
 * MaildirFolderTree).
 * Standards: RFC 6154 (SPECIAL-USE, §3 CREATE-SPECIAL-USE); RFC 9051 §6.3.4–§6.3.8 (CREATE,
 *   DELETE, RENAME with inferiors, SUBSCRIBE).
 * Security: names pass checkFolderName; users pass ownerOf; bound parameters only.
 * Limitations: RENAME of INBOX is refused (as the Maildir backend).
 */
import { MailFolderError, type FolderEntry, type SpecialUse } from '../core/index.js';
import { checkFolderName, isInbox } from './folder-name.js';
import { defaultFolders } from './maildir-folder-tree.js';
import { notifyFolder } from './pg-mail-notifier.js';
import { ownerOf, type PgMailStore } from './pg-mail-store.js';

/** What a change to a folder that does not exist throws (the tree and the messages alike). */
export function nonexistent(folder: string): MailFolderError {
  return new MailFolderError('nonexistent', `no folder ${folder}`);
}

export class PgFolderTree {
  readonly delimiter = '.';

  constructor(protected readonly store: PgMailStore) {}

  async ensureDefaultFolders(user: string): Promise<void> {
    const owner = ownerOf(user);
    await this.store.tx(async (c) => {
      const made = await c.query<{ name: string }>(
        'INSERT INTO mail_folders (owner, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING name',
        [owner, ['', ...defaultFolders.map((d) => d.name)]],
      );
      const subscribe = ['INBOX', ...made.rows.map((r) => r.name).filter((n) => n !== '')];
      await c.query('INSERT INTO mail_subscriptions (owner, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [owner, subscribe]);
    });
  }

  async listFolders(user: string): Promise<FolderEntry[]> {
    const owner = ownerOf(user);
    const rows = await this.store.query<{ name: string; special_use: SpecialUse | null }>(`SELECT name, special_use FROM mail_folders WHERE owner = $1 AND name <> '' ORDER BY name COLLATE "C"`, [owner]);
    const out: FolderEntry[] = [{ name: 'INBOX' }];
    for (const { name, special_use } of rows) {
      // RFC 6154: the use given at CREATE, else the default folders' own
      const use = special_use ?? defaultFolders.find((d) => d.name === name)?.use;
      out.push(use ? { name, specialUse: use } : { name });
    }
    return out;
  }

  async folderExists(user: string, folder: string): Promise<boolean> {
    const f = checkFolderName(folder);
    if (f === '') return true;
    return (await this.store.query('SELECT 1 FROM mail_folders WHERE owner = $1 AND name = $2', [ownerOf(user), f])).length > 0;
  }

  /** RFC 6154 §3 CREATE-SPECIAL-USE: the use is kept in the folder's row. */
  readonly canCreateSpecialUse = true;

  async createFolder(user: string, folder: string, opts: { specialUse?: SpecialUse } = {}): Promise<void> {
    const f = checkFolderName(folder);
    if (f === '') throw new MailFolderError('exists', `folder ${folder} exists`);
    const made = await this.store.query('INSERT INTO mail_folders (owner, name, special_use) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id', [ownerOf(user), f, opts.specialUse ?? null]);
    if (made.length === 0) throw new MailFolderError('exists', `folder ${folder} exists`);
  }

  async deleteFolder(user: string, folder: string): Promise<void> {
    const f = checkFolderName(folder);
    if (f === '') throw new MailFolderError('cannot', 'INBOX cannot be deleted');
    const owner = ownerOf(user);
    const bodies = await this.store.tx(async (c) => {
      const row = await this.store.lockFolder(c, owner, f, false);
      if (!row) throw nonexistent(folder);
      const b = await c.query<{ body_hash: Buffer }>('SELECT DISTINCT body_hash FROM mail_messages WHERE folder_id = $1', [row.id]);
      await c.query('DELETE FROM mail_folders WHERE id = $1', [row.id]);
      await notifyFolder(c, owner, f);
      return b.rows.map((r) => r.body_hash);
    });
    await this.store.collectBodies(bodies);
  }

  async renameFolder(user: string, from: string, to: string): Promise<void> {
    const f = checkFolderName(from);
    const t = checkFolderName(to);
    if (f === '') throw new MailFolderError('cannot', 'renaming INBOX is not supported');
    if (t === '') throw new MailFolderError('exists', `folder ${to} exists`);
    const owner = ownerOf(user);
    await this.store.tx(async (c) => {
      const row = await this.store.lockFolder(c, owner, f, false);
      if (!row) throw nonexistent(from);
      if ((await c.query('SELECT 1 FROM mail_folders WHERE owner = $1 AND name = $2', [owner, t])).rowCount !== 0) {
        throw new MailFolderError('exists', `folder ${to} exists`);
      }
      // RFC 9051 §6.3.6: inferior folders are renamed with it
      const moved = await c.query<{ name: string }>(
        `UPDATE mail_folders SET name = $3 || substr(name, length($2) + 1)
         WHERE owner = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || '.') RETURNING name`,
        [owner, f, t],
      );
      for (const m of moved.rows) await notifyFolder(c, owner, m.name);
      await this.store.bumpFolder(c, row, row.highestModseq + 1);
    }).catch((err: unknown) => {
      // a folder under the new name's levels exists already (unique owner, name)
      if ((err as { cause?: { code?: string } }).cause?.code === '23505') throw new MailFolderError('exists', `a folder under ${to} exists`);
      throw err;
    });
  }

  async listSubscriptions(user: string): Promise<string[]> {
    const rows = await this.store.query<{ name: string }>('SELECT name FROM mail_subscriptions WHERE owner = $1 ORDER BY name COLLATE "C"', [ownerOf(user)]);
    return rows.map((r) => r.name);
  }

  async setSubscribed(user: string, folder: string, on: boolean): Promise<void> {
    const name = isInbox(folder) ? 'INBOX' : checkFolderName(folder);
    const owner = ownerOf(user);
    if (on) await this.store.query('INSERT INTO mail_subscriptions (owner, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [owner, name]);
    else await this.store.query('DELETE FROM mail_subscriptions WHERE owner = $1 AND name = $2', [owner, name]);
  }
}
