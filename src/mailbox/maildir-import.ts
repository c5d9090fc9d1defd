/**
 * @module maildir-import
 * Copies folders from another mailbox store (PostgreSQL: `correio migrate --to file:DIR`) into
 * Maildirs with their IMAP identity kept: the same UIDVALIDITY, UIDs, UIDNEXT, MODSEQs, flags
 * (in the file names), keywords (in correio-uidlist and its log) and dates (the files' mtimes), so clients'
 * caches stay valid across the move. The reverse of pg-mail-import.ts, with the same face.
 * Resumable: a UID listed in correio-uidlist whose file is there is skipped; a file written
 * by an interrupted run (its name comes from the source's UIDVALIDITY and UID) is found again
 * instead of written twice; a folder is created with the source's UIDVALIDITY or must have it.
 * Standards: RFC 9051 §2.3.1.1 (UIDs and UIDVALIDITY unchanged); RFC 7162 §3.1 (MODSEQs kept);
 *   the Maildir spec (flags in the info ":2,").
 * Security: users and folder names pass the Maildir store's checks; files are 0600.
 * Limitations: the target must not be in use (no folder lock is taken: the export runs with
 *   every server stopped); the UID list is written once per folder, at `finish`.
 */
import { readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { findByUid, MailFolderError, type FolderSnapshot, type SpecialUse } from '../core/index.js';
import { atomicWriteFile } from '../util/index.js';
import { checkFolderName } from './folder-name.js';
import type { MaildirFolders } from './maildir-folders.js';
import { curName, normFlags } from './maildir-name.js';
import { encodeUniqueKey, type MaildirStore } from './maildir-store.js';
import type { FolderImport } from './pg-mail-import.js';
import { emptyIndex, uidValidityName, withExpunges, recordedUids, type ExpungeRecord, type IndexEntry, type UidIndex } from './uid-index.js';
import { UidListFiles } from './uid-log.js';

/** A Maildir folder being copied in; `finish` writes its UID list (call it before `count`). */
export interface MaildirFolderImport extends FolderImport {
  finish(): Promise<void>;
}

/**
 * Opens (or makes) `folder` of `user` with the source snapshot's UIDVALIDITY. A folder there
 * under another UIDVALIDITY is refused: its UIDs would clash.
 */
export async function importMaildirFolder(
  store: MaildirStore, folders: MaildirFolders, user: string, folder: string, src: FolderSnapshot, specialUse?: SpecialUse,
): Promise<MaildirFolderImport> {
  const f = checkFolderName(folder);
  if (f !== '' && !(await folders.folderExists(user, f))) await folders.createFolder(user, f, specialUse ? { specialUse } : {});
  const dir = await store.checkedDir(user, f, true);
  if (dir === undefined) throw new MailFolderError('nonexistent', `no folder ${folder}`);
  // the list with its change log (uid-log), written whole at finish under a new generation
  const files = new UidListFiles();
  const old = (await files.read(dir))?.index;
  if (old && old.uidValidity !== src.uidValidity) {
    throw new MailFolderError('exists', `${user} ${folder}: a Maildir folder already with UIDVALIDITY ${old.uidValidity}, not ${src.uidValidity}`);
  }
  const listed = new Set((await store.list(user, f)).map((m) => m.key));
  const entries = new Map<string, IndexEntry>([...(old?.entries ?? [])].filter(([key]) => listed.has(key)));
  const present = new Set([...entries.values()].map((e) => e.uid));
  const base = old ?? emptyIndex(src.uidValidity);
  let expunges: { expunged: ExpungeRecord[]; expungeFloor: number } = { expunged: [...base.expunged], expungeFloor: base.expungeFloor };
  const uidList = (): UidIndex => ({
    ...base,
    ...expunges,
    uidNext: Math.max(base.uidNext, src.uidNext),
    highestModseq: Math.max(base.highestModseq, src.highestModseq),
    entries: new Map([...entries].sort((a, b) => a[1].uid - b[1].uid)),
  });
  return {
    present,
    add: async (m, body) => {
      // a name from the source's identity: a file left by an interrupted run is found again
      const unique = `export-${src.uidValidity}-${m.uid}`;
      const prefix = `${encodeUniqueKey(unique)}.`;
      let key = [...listed].find((k) => k.startsWith(prefix));
      if (key === undefined) key = (await store.deliver(user, body, { uniqueKey: unique, folder: f })).key;
      else body.destroy();
      const flags = normFlags(m.flags);
      await store.setFlags(user, key, flags, f);
      const t = m.receivedAt / 1000;
      await utimes(join(dir, 'cur', curName(key, flags)), t, t);
      entries.set(key, { uid: m.uid, modseq: m.modseq, flags, keywords: m.keywords });
    },
    finish: async () => {
      await files.write(dir, undefined, uidList());
      // a folder made later gets a UIDVALIDITY above every one given (RFC 9051 §2.3.1.1)
      const root = store.mailboxPath(user, '');
      const last = Number((await readFile(join(root, uidValidityName), 'utf8').catch(() => '0')).trim()) || 0;
      if (src.uidValidity > last) await atomicWriteFile(join(root, uidValidityName), `${src.uidValidity}\n`);
    },
    expunged: (h) => {
      // the source's record in MODSEQ order; past the Maildir's bound the oldest give way to its floor
      let exp = { expunged: [] as ExpungeRecord[], expungeFloor: Math.max(h.floor, expunges.expungeFloor) };
      for (const r of h.records) exp = withExpunges(exp.expunged, exp.expungeFloor, r.modseq, [...r.uids]);
      expunges = exp;
      return Promise.resolve(recordedUids(h).size);
    },
    count: async (uids) => {
      const snap = await folders.sync(user, folder);
      return snap.uidValidity === src.uidValidity ? uids.filter((u) => findByUid(snap.list, u)).length : 0;
    },
  };
}
