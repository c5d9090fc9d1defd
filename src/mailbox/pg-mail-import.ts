/**
 * @module pg-mail-import
 * Copies folders from another mailbox store into the PostgreSQL mailboxes (and lists whose
 * mailboxes are there, for the copy back: maildir-import.ts) with their IMAP
 * identity kept: the same UIDVALIDITY, UIDs, UIDNEXT, MODSEQs, flags, keywords and dates, so
 * clients' caches stay valid across the move (`correio migrate`). Resumable: a UID already
 * copied is skipped; a folder is created with the source's UIDVALIDITY or must have it.
 * Standards: RFC 9051 §2.3.1.1 (UIDs and UIDVALIDITY unchanged means "nothing to refetch");
 *   RFC 7162 §3.1 (MODSEQs kept, HIGHESTMODSEQ never lowered).
 * Security: users and folder names pass ownerOf and checkFolderName; bound parameters only.
 * Limitations: one message per transaction (a crash loses at most the one being copied);
 *   expunge records of the source are not copied (a QRESYNC client older than the move gets
 *   VANISHED for every UID not present, which RFC 7162 allows).
 */
import { MailFolderError, type FolderMessage, type FolderSnapshot } from '../core/index.js';
import { checkFolderName } from './folder-name.js';
import { crlfBody, ownerOf, type PgMailStore } from './pg-mail-store.js';

/** A folder being copied in: which UIDs are there already, and how to add the others. */
export interface FolderImport {
  /** UIDs present in PostgreSQL before this run added any */
  readonly present: ReadonlySet<number>;
  add(m: FolderMessage, body: Buffer): Promise<void>;
  /** how many of `uids` are in the PostgreSQL folder now */
  count(uids: readonly number[]): Promise<number>;
}

/**
 * Opens (or makes) `folder` of `user` with the source snapshot's UIDVALIDITY, raising UIDNEXT
 * and HIGHESTMODSEQ to the source's. A folder there under another UIDVALIDITY (made by a node
 * already serving) is refused: its UIDs would clash.
 */
export async function importFolder(store: PgMailStore, user: string, folder: string, src: FolderSnapshot): Promise<FolderImport> {
  const owner = ownerOf(user);
  const name = checkFolderName(folder);
  const row = await store.tx(async (c) => {
    await c.query(
      `INSERT INTO mail_folders (owner, name, uid_validity, uid_next, highest_modseq) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (owner, name) DO UPDATE SET uid_next = greatest(mail_folders.uid_next, excluded.uid_next),
         highest_modseq = greatest(mail_folders.highest_modseq, excluded.highest_modseq)`,
      [owner, name, src.uidValidity, src.uidNext, src.highestModseq],
    );
    const r = await c.query<{ id: string; uid_validity: string }>('SELECT id, uid_validity FROM mail_folders WHERE owner = $1 AND name = $2', [owner, name]);
    return r.rows[0];
  });
  if (Number(row.uid_validity) !== src.uidValidity) {
    throw new MailFolderError('exists', `${user} ${folder}: in PostgreSQL already with UIDVALIDITY ${row.uid_validity}, not ${src.uidValidity}`);
  }
  const present = new Set((await store.query<{ uid: string }>('SELECT uid FROM mail_messages WHERE folder_id = $1', [row.id])).map((r) => Number(r.uid)));
  return {
    present,
    add: async (m, body) => {
      const crlf = crlfBody(body);
      await store.tx(async (c) => {
        const hash = await store.putBody(c, crlf);
        await c.query(
          `INSERT INTO mail_messages (folder_id, uid, key, body_hash, size, flags, keywords, modseq, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
          [row.id, m.uid, m.key, hash, crlf.length, m.flags, m.keywords, m.modseq, Math.floor(m.receivedAt)],
        );
      });
    },
    count: async (uids) =>
      Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM mail_messages WHERE folder_id = $1 AND uid = ANY($2::bigint[])', [row.id, uids]))[0].n),
  };
}

/** Subscribes `user` to `names` (those already subscribed stay). */
export async function importSubscriptions(store: PgMailStore, user: string, names: readonly string[]): Promise<void> {
  await store.query('INSERT INTO mail_subscriptions (owner, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [ownerOf(user), names]);
}

/** Every user with a folder in PostgreSQL, in byte order (what `correio migrate --to file:` copies out). */
export async function mailboxOwners(store: PgMailStore): Promise<string[]> {
  return (await store.query<{ owner: string }>('SELECT owner FROM mail_folders GROUP BY owner ORDER BY owner COLLATE "C"', [])).map((r) => r.owner);
}
