/**
 * @module pg-mail-import
 * Copies folders from another mailbox store into the PostgreSQL mailboxes (and lists whose
 * mailboxes are there, for the copy back: maildir-import.ts) with their IMAP
 * identity kept: the same UIDVALIDITY, UIDs, UIDNEXT, flags, keywords and dates, so clients'
 * caches stay valid across the move (`correio migrate`). Resumable: a UID already copied is
 * skipped; a folder is created with the source's UIDVALIDITY or must have it. A message is
 * written as every writer writes one, so a node serving the folder meanwhile takes it in from
 * its kept snapshot (pg-folder-snapshots) and its sessions are told at their next step: under
 * the folder row's lock, with a MODSEQ above the row's HIGHESTMODSEQ (the source's MODSEQ when
 * it is above, else the next one), the row raised to it and NOTIFY sent. HIGHESTMODSEQ is
 * raised to the source's at `finish`, after the messages.
 * Standards: RFC 9051 §2.3.1.1 (UIDs and UIDVALIDITY unchanged means "nothing to refetch");
 *   RFC 7162 §3.1 (MODSEQs only grow: a message's is its source's or above, HIGHESTMODSEQ
 *   never lowered).
 * Security: users and folder names pass ownerOf and checkFolderName; bound parameters only.
 * The source's expunge record is copied too (each UID with the MODSEQ at which it left, and
 * the UIDs the source no longer records one by one at its floor), so a QRESYNC client that
 * read the folder before the move is told of every expunge since (VANISHED).
 * Limitations: one message per transaction (a crash loses at most the one being copied). A
 *   message whose MODSEQ is not above the folder's HIGHESTMODSEQ when it is copied (a source
 *   whose MODSEQs do not rise with its UIDs, a MODSEQ of 1, a folder changed meanwhile) is
 *   given the next one instead of its own: a CONDSTORE client is told its flags once more,
 *   never less (one kept at or below what a node has seen would be missed by its delta sync).
 */
import { MailFolderError, type ExpungeHistory, type FolderMessage, type FolderSnapshot } from '../core/index.js';
import { rangesOf } from '../protocol/imap/index.js';
import { checkFolderName } from './folder-name.js';
import { recordedUids } from './uid-index.js';
import type { Readable } from 'node:stream';
import { ownerOf, type PgMailStore } from './pg-mail-store.js';

/** A folder being copied in: which UIDs are there already, and how to add the others. */
export interface FolderImport {
  /** UIDs present in PostgreSQL before this run added any */
  readonly present: ReadonlySet<number>;
  /** `body` is streamed into the target (as a delivery's is), never held whole */
  add(m: FolderMessage, body: Readable): Promise<void>;
  /** how many of `uids` are in the PostgreSQL folder now */
  count(uids: readonly number[]): Promise<number>;
  /**
   * Records the source's expunges (after every message is copied; `kept`: the source's UIDs);
   * how many of the recorded UIDs the target now holds as expunged.
   */
  expunged?(h: ExpungeHistory, kept: readonly number[]): Promise<number>;
}

/** The expunge record of a PostgreSQL folder (every expunge is kept: no floor). */
export async function pgExpungeHistory(store: PgMailStore, user: string, folder: string): Promise<ExpungeHistory> {
  const rows = await store.query<{ modseq: string; uids: string[] }>(
    `SELECT e.modseq, array_agg(e.uid ORDER BY e.uid) AS uids FROM mail_expunged e JOIN mail_folders f ON f.id = e.folder_id
     WHERE f.owner = $1 AND f.name = $2 GROUP BY e.modseq ORDER BY e.modseq`,
    [ownerOf(user), checkFolderName(folder)],
  );
  return { floor: 0, records: rows.map((r) => ({ modseq: Number(r.modseq), uids: rangesOf(r.uids.map(Number)) })) };
}

/**
 * Opens (or makes) `folder` of `user` with the source snapshot's UIDVALIDITY, raising UIDNEXT
 * to the source's (HIGHESTMODSEQ at `finish`). A folder there under another UIDVALIDITY (made
 * by a node already serving) is refused: its UIDs would clash.
 */
export async function importFolder(
  store: PgMailStore, user: string, folder: string, src: Pick<FolderSnapshot, 'uidValidity' | 'uidNext' | 'highestModseq'>,
): Promise<FolderImport & { finish(): Promise<void> }> {
  const owner = ownerOf(user);
  const name = checkFolderName(folder);
  const row = await store.tx(async (c) => {
    await c.query(
      `INSERT INTO mail_folders (owner, name, uid_validity, uid_next) VALUES ($1, $2, $3, $4)
       ON CONFLICT (owner, name) DO UPDATE SET uid_next = greatest(mail_folders.uid_next, excluded.uid_next)`,
      [owner, name, src.uidValidity, src.uidNext],
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
    add: async (m, message) => {
      // as a delivery stores it: past the store's chunk size streamed into chunk rows
      const body = await store.receive(message);
      try {
        await store.tx(async (c) => {
          // as every writer: under the row's lock, a MODSEQ above the row's HIGHESTMODSEQ (the
          // source's when it is, else the next), the row raised to it and every node told, so a
          // node's kept snapshot (pg-folder-snapshots, MODSEQ above its own) takes the message in
          const { hash, size } = await store.putIncoming(c, body);
          const f = await store.lockFolder(c, owner, name, false);
          if (!f || f.id !== row.id) throw new MailFolderError('nonexistent', `${user} ${folder}: gone from PostgreSQL during the copy`);
          const modseq = m.modseq > f.highestModseq ? m.modseq : f.highestModseq + 1;
          const r = await c.query(
            `INSERT INTO mail_messages (folder_id, uid, key, body_hash, size, flags, keywords, modseq, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
            [row.id, m.uid, m.key, hash, size, m.flags, m.keywords, modseq, Math.floor(m.receivedAt)],
          );
          if (r.rowCount) await store.bumpFolder(c, f, modseq, Math.max(f.uidNext, m.uid + 1));
        });
      } finally {
        store.release(body);
      }
    },
    count: async (uids) =>
      Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM mail_messages WHERE folder_id = $1 AND uid = ANY($2::bigint[])', [row.id, uids]))[0].n),
    expunged: async (h, kept) => {
      const recorded = recordedUids(h);
      await store.tx(async (c) => {
        await c.query(
          `INSERT INTO mail_expunged (folder_id, uid, modseq) SELECT $1, u, m FROM unnest($2::bigint[], $3::bigint[]) AS x(u, m)
           ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = greatest(mail_expunged.modseq, excluded.modseq)`,
          [row.id, [...recorded.keys()], [...recorded.values()]],
        );
        // below the floor the source keeps no UIDs: each UID it neither holds nor records left
        // at or below the floor, so a client older than that is told of it (RFC 7162 allows
        // naming UIDs expunged before the client's MODSEQ, never leaving one out)
        if (h.floor > 0) {
          await c.query(
            `INSERT INTO mail_expunged (folder_id, uid, modseq)
             SELECT $1, u, $2 FROM (SELECT generate_series(1, $3::bigint - 1) EXCEPT SELECT unnest($4::bigint[])) AS x(u)
             WHERE NOT EXISTS (SELECT 1 FROM mail_messages WHERE folder_id = $1 AND uid = u)
             ON CONFLICT DO NOTHING`,
            [row.id, h.floor, src.uidNext, [...kept, ...recorded.keys()]],
          );
        }
      });
      return Number((await store.query<{ n: string }>('SELECT count(*) AS n FROM mail_expunged WHERE folder_id = $1 AND uid = ANY($2::bigint[])', [row.id, [...recorded.keys()]]))[0].n);
    },
    // HIGHESTMODSEQ not below the source's (RFC 7162 §3.1: a client's cached one stays valid)
    finish: async () => {
      await store.tx(async (c) => {
        const f = await store.lockFolder(c, owner, name, false);
        if (f && f.id === row.id && f.highestModseq < src.highestModseq) await store.bumpFolder(c, f, src.highestModseq);
      });
    },
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
