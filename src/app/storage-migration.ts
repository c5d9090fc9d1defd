/**
 * @module storage-migration
 * `correio migrate --to postgres://…`: copies a file-based site (the SQLite directory, the
 * files spool under data_dir and the Maildirs) into PostgreSQL, so that several nodes can
 * share it.
 * Resumable: the directory is written in one transaction of upserts, and a message already in
 * the PostgreSQL queue (same id) is skipped, so an interrupted run is simply run again.
 * Verified: afterwards every domain, user, alias, list and role of the source is looked for in
 * PostgreSQL, and the PostgreSQL queue must hold every source message with as many envelopes;
 * a difference fails the migration with what is missing. Every folder of every Maildir under
 * the mail directory is copied with its UIDVALIDITY, UIDs, MODSEQs, flags, keywords and dates
 * (pg-mail-import), and counted again in PostgreSQL; subscriptions too; and the DKIM keys of
 * data_dir/dkim go into PostgreSQL's dkim_keys (dkim-copy.ts), compared key for key; the API
 * tokens of tokens.sqlite into api_tokens, found again by id and hash; data_dir/srs-secret
 * becomes the nodes' generated SRS secret unless PostgreSQL has one already (then said). HTTP submission's
 * Idempotency-Key answers are not copied (they matter for a day; a client retrying across the
 * move may be sent twice).
 * Standards: none.
 * Security: password hashes are copied as they are (never printed); the url is never printed.
 * Limitations: the reverse is storage-export.ts. The source is left as it was, except that reading a
 *   Maildir folder takes in what waited in new/ (as any IMAP reader does) and records UIDs.
 */
import type { Config } from '../config/index.js';
import { PgDirectory, PgTokenStore, pgSharedSecret, SqliteDirectory, SqliteTokenStore, directoryFile, tokenFile, type DirectoryDump } from '../directory/index.js';
import { FsQueueStore, PgQueueStore } from '../queue/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { copyDkimKeysToPostgres } from './dkim-copy.js';
import { srsSecretPath } from './mail-auth.js';
import { importFolder, importSubscriptions, MaildirFolders, MaildirStore, PgMailStore } from '../mailbox/index.js';
import { mailDir, spoolDir } from './backends.js';
import { copyApiTokens, copyDirectoryDump, copyMailboxFolders, copyQueueMessages, type TokenCounts, type DirectoryCounts, type MailboxCounts, type QueueCounts } from './storage-copy.js';

export interface MigrationReport {
  /** entries of each kind copied (and found again) */
  readonly directory: DirectoryCounts;
  readonly queue: QueueCounts;
  readonly mailboxes: MailboxCounts;
  /** the DKIM keys of this data_dir ("DOMAIN/SELECTOR"), copied into PostgreSQL's dkim_keys (dkim-copy.ts) */
  readonly dkim: { readonly keys: readonly string[]; readonly copied: number };
  /** the API tokens of tokens.sqlite, copied into PostgreSQL's api_tokens */
  readonly tokens: TokenCounts;
  /** data_dir/srs-secret: absent, now the one of every node, or PostgreSQL had another one */
  readonly srs: 'none' | 'shared' | 'other';
}

async function copyDirectory(config: Config, url: string): Promise<DirectoryCounts> {
  const src = await SqliteDirectory.open(directoryFile(config), { localDomains: config.localDomains });
  let dump: DirectoryDump;
  try {
    dump = await src.exportDump();
  } finally {
    await src.close();
  }
  const dst = await PgDirectory.open(url);
  try {
    return await copyDirectoryDump(dump, dst, 'in PostgreSQL');
  } finally {
    await dst.close();
  }
}

async function copyQueue(config: Config, url: string): Promise<QueueCounts> {
  const src = await FsQueueStore.open(spoolDir(config), { recover: 'never' });
  const dst = await PgQueueStore.open(url);
  try {
    return await copyQueueMessages(src, dst, 'in PostgreSQL');
  } finally {
    await src.close();
    await dst.close();
  }
}

/** The users that have a Maildir under `root` (`<domain>/<local>/`), as local@domain. */
async function maildirUsers(root: string): Promise<string[]> {
  const dirs = async (d: string): Promise<string[]> => {
    const out: string[] = [];
    for (const n of await readdir(d).catch(() => [] as string[])) {
      if (!n.startsWith('.') && (await lstat(join(d, n))).isDirectory()) out.push(n);
    }
    return out.sort();
  };
  const users: string[] = [];
  for (const domain of await dirs(root)) for (const local of await dirs(join(root, domain))) users.push(`${local}@${domain}`);
  return users;
}

async function copyMailboxes(config: Config, url: string): Promise<MailboxCounts> {
  const src = new MaildirFolders(new MaildirStore(mailDir(config), { hostname: config.hostname }));
  const dst = await PgMailStore.open(url);
  try {
    return await copyMailboxFolders(src, await maildirUsers(mailDir(config)), {
      openFolder: (user, name, snap) => importFolder(dst, user, name, snap),
      subscribe: (user, names) => importSubscriptions(dst, user, names),
    }, 'in PostgreSQL');
  } finally {
    await dst.close();
  }
}

/** The API tokens of tokens.sqlite (none when there is no such file: it is not made) into api_tokens, each found again with its hash. */
async function copyTokens(config: Config, url: string): Promise<TokenCounts> {
  if (!existsSync(tokenFile(config))) return { tokens: 0, copied: 0 };
  const src = SqliteTokenStore.open(tokenFile(config));
  const dst = PgTokenStore.open(url);
  try {
    return await copyApiTokens(src, dst, 'in PostgreSQL');
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Offers data_dir/srs-secret as PostgreSQL's generated SRS secret, so bounces to forwards made before the move reverse on every node. */
async function copySrsSecret(config: Config, url: string): Promise<'none' | 'shared' | 'other'> {
  const file = srsSecretPath(config.dataDir);
  if (!existsSync(file)) return 'none';
  const mine = readFileSync(file, 'utf8').trim();
  return (await pgSharedSecret(url, 'srs', mine)) === mine ? 'shared' : 'other';
}

/** Copies directory, queue and mailboxes of the file-based `config` into PostgreSQL at `url`, and verifies the copy. */
export async function migrateToPostgres(config: Config, url: string): Promise<MigrationReport> {
  const directory = await copyDirectory(config, url);
  const queue = await copyQueue(config, url);
  const mailboxes = await copyMailboxes(config, url);
  const dkim = await copyDkimKeysToPostgres(config.dataDir, url);
  const tokens = await copyTokens(config, url);
  const srs = await copySrsSecret(config, url);
  return { directory, queue, mailboxes, dkim, tokens, srs };
}
