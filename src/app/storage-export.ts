/**
 * @module storage-export
 * `correio migrate --to file:DIR`: the reverse of storage-migration.ts. Copies a PostgreSQL
 * site (`[storage] url = "postgres://…"`) into a new files data directory DIR: the directory
 * into DIR/directory.sqlite (password hashes, quotas, disabled marks, aliases, lists with
 * their members, roles), the queue into the files spool DIR/spool (same message ids, the
 * envelopes with their states and attempts, each body once) and the mailboxes into DIR/mail.
 * Resumable: the directory is written as upserts in one transaction, and a message already in
 * the spool (same id) is skipped, so an interrupted run is simply run again.
 * Refused with a node still delivering (an envelope leased now): it must be stopped first.
 * Verified: afterwards every source entry is looked for in DIR (storage-copy.ts); a spool in
 * DIR holding messages that PostgreSQL does not (an old spool) is refused before anything is
 * written, since they would be delivered a second time.
 * Standards: none.
 * Security: password hashes are copied as they are (never printed); the url is never printed;
 *   DIR is made 0700 when it is new.
 * The mailboxes stored in PostgreSQL go into Maildirs under DIR/mail, each folder with its
 *   UIDVALIDITY, UIDs, MODSEQs, flags, keywords, dates and special use, and the subscriptions
 *   (maildir-import.ts), counted again there. The API tokens go into DIR/tokens.sqlite, found
 *   again by id and hash. PostgreSQL's generated SRS secret (shared_secrets, row `srs`) becomes
 *   DIR/srs-secret (0600), so bounces to forwards made before the move still reverse; a
 *   DIR/srs-secret holding another secret is kept and reported.
 * Limitations: Idempotency-Key answers stay in PostgreSQL; a
 *   site whose `[storage] mail_dir` holds the mailboxes as Maildirs keeps that
 *   directory (nothing to copy); expunge records are not copied (QRESYNC clients older than the
 *   move get VANISHED for every missing UID). The source is left as it was.
 */
import { mkdir, readFile } from 'node:fs/promises';
import type { Config } from '../config/index.js';
import { findPgSharedSecret, PgDirectory, PgTokenStore, SqliteDirectory, SqliteTokenStore, directoryFile, tokenFile, type DirectoryDump } from '../directory/index.js';
import { FsQueueStore, PgQueueStore } from '../queue/index.js';
import { MaildirFolders, MaildirStore, mailboxOwners, importMaildirFolder, PgMailFolders, PgMailStore } from '../mailbox/index.js';
import { atomicWriteFile } from '../util/index.js';
import { mailboxesInPostgres, mailDir, spoolDir } from './backends.js';
import { srsSecretPath } from './mail-auth.js';
import { exportDkimKeys } from './dkim-copy.js';
import { copyApiTokens, copyDirectoryDump, copyMailboxFolders, copyQueueMessages, MigrationBusyError, MigrationCheckError, type DirectoryCounts, type MailboxCounts, type QueueCounts, type TokenCounts } from './storage-copy.js';

export interface ExportReport {
  readonly directory: DirectoryCounts;
  readonly queue: QueueCounts;
  /** the mailboxes copied from PostgreSQL; undefined when the source keeps them as Maildirs ([storage] mail_dir) */
  readonly mailboxes: MailboxCounts | undefined;
  /** PostgreSQL's active DKIM keys and this node's key files, written into DIR (dkim-copy.ts) */
  readonly dkim: { readonly keys: readonly string[]; readonly copied: number };
  /** PostgreSQL's API tokens, written into DIR/tokens.sqlite */
  readonly tokens: TokenCounts;
  /** PostgreSQL's generated SRS secret: none made, now DIR/srs-secret, there already, or DIR/srs-secret holds another one */
  readonly srs: 'none' | 'written' | 'there' | 'other';
}

/** The configuration of the exported site: this one's, with data_dir DIR and files storage. */
export function exportedConfig(config: Config, dir: string): Config {
  return { ...config, dataDir: dir, storage: { ...config.storage, url: 'file:', mailDir: undefined } };
}

async function exportDirectory(config: Config, target: Config): Promise<DirectoryCounts> {
  const src = await PgDirectory.open(config.storage.url);
  let dump: DirectoryDump;
  try {
    dump = await src.exportDump();
  } finally {
    await src.close();
  }
  const dst = await SqliteDirectory.open(directoryFile(target), { localDomains: target.localDomains });
  try {
    return await copyDirectoryDump(dump, dst, `in ${directoryFile(target)}`);
  } finally {
    await dst.close();
  }
}

/** Refuses a source whose queue a node is still delivering from: it would change under the copy, and be delivered twice afterwards. */
async function checkNoNodeDelivers(config: Config): Promise<void> {
  const q = await PgQueueStore.open(config.storage.url);
  try {
    const leases = await q.countLeases();
    if (leases.envelopes > 0) {
      throw new MigrationBusyError(
        `${leases.envelopes} envelopes are being delivered by a running node (leased until ${new Date(leases.until ?? 0).toISOString()}): stop every node, then run again`,
      );
    }
  } finally {
    await q.close();
  }
}

async function exportQueue(config: Config, target: Config): Promise<QueueCounts> {
  const src = await PgQueueStore.open(config.storage.url);
  const dst = await FsQueueStore.open(spoolDir(target), { recover: 'never' });
  try {
    const here = await dst.listMessageIds();
    if (here.length > 0) {
      const known = new Set(await src.listMessageIds());
      const strangers = here.filter((id) => !known.has(id));
      if (strangers.length > 0) {
        throw new MigrationCheckError(
          `${spoolDir(target)} holds ${strangers.length} messages that are not in PostgreSQL (${strangers.slice(0, 3).join(', ')}): an old spool would be delivered again; export into a new directory`,
        );
      }
    }
    return await copyQueueMessages(src, dst, `in ${spoolDir(target)}`);
  } finally {
    await dst.close();
    await src.close();
  }
}

async function exportMailboxes(config: Config, target: Config): Promise<MailboxCounts> {
  const src = await PgMailStore.open(config.storage.url);
  const maildir = new MaildirStore(mailDir(target), { hostname: config.hostname });
  const folders = new MaildirFolders(maildir);
  try {
    return await copyMailboxFolders(new PgMailFolders(src), await mailboxOwners(src), {
      openFolder: (user, name, snap, use) => importMaildirFolder(maildir, folders, user, name, snap, use),
      subscribe: async (user, names) => {
        for (const name of names) await folders.setSubscribed(user, name, true);
      },
    }, `in ${mailDir(target)}`);
  } finally {
    await src.close();
  }
}

async function exportTokens(config: Config, target: Config): Promise<TokenCounts> {
  const src = PgTokenStore.open(config.storage.url);
  const dst = SqliteTokenStore.open(tokenFile(target));
  try {
    return await copyApiTokens(src, dst, `in ${tokenFile(target)}`);
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Writes PostgreSQL's generated SRS secret where a files site reads it (mail-auth.ts), unless DIR has one already. */
async function exportSrsSecret(config: Config, dir: string): Promise<ExportReport['srs']> {
  const secret = await findPgSharedSecret(config.storage.url, 'srs');
  if (secret === undefined) return 'none';
  const file = srsSecretPath(dir);
  const here = await readFile(file, 'utf8').then((s) => s.trim(), (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (here !== undefined) return here === secret ? 'there' : 'other';
  await atomicWriteFile(file, secret + '\n', { mode: 0o600 });
  return 'written';
}

/** Copies directory, queue and mailboxes of the PostgreSQL site `config` into the files data directory `dir`, and verifies the copy. */
export async function exportToFiles(config: Config, dir: string): Promise<ExportReport> {
  const target = exportedConfig(config, dir);
  await checkNoNodeDelivers(config);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // the queue first: an old spool in DIR is refused before anything is written
  const queue = await exportQueue(config, target);
  const directory = await exportDirectory(config, target);
  const mailboxes = mailboxesInPostgres(config) ? await exportMailboxes(config, target) : undefined;
  const dkim = await exportDkimKeys(config.storage.url, config.dataDir, dir);
  const tokens = await exportTokens(config, target);
  const srs = await exportSrsSecret(config, dir);
  return { directory, queue, mailboxes, dkim, tokens, srs };
}
