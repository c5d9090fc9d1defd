/**
 * @module storage-copy
 * What both directions of `correio migrate` do alike: copy a whole directory (a dump, password
 * hashes included) and every queued message (same ids, same envelopes, each body once) from one
 * backend to another, and every folder of every mailbox with its UIDs, then verify the copy by looking for every source entry in the target.
 * storage-migration.ts (files → PostgreSQL) and storage-export.ts (PostgreSQL → files) open
 * the backends and add the mailboxes.
 * Standards: none.
 * Security: password hashes are copied as they are, never printed.
 * Bodies (queued messages and mailbox messages) are streamed from source to target, as an
 * SMTP body or a delivery is: never held whole (a big one goes to tmp/ or into chunk rows).
 * Limitations: none.
 */
import type { Readable } from 'node:stream';
import { MailFolderError, type Directory, type Envelope, type FolderSnapshot, type MailFolderStore, type MessageId, type QueueStore, type SpecialUse } from '../core/index.js';
import { directoryKey, dumpCounts, type DirectoryDump, type TokenRow } from '../directory/index.js';
import { recordedUids, type FolderImport } from '../mailbox/index.js';

/** A copy that did not verify: what is missing in the target. */
export class MigrationCheckError extends Error {
  readonly code = 'ERR_MIGRATION_CHECK';
  constructor(message: string) {
    super(message);
    this.name = 'MigrationCheckError';
  }
}

/** The source is in use (a node still delivering from it): stop it and run again. */
export class MigrationBusyError extends Error {
  readonly code = 'ERR_MIGRATION_BUSY';
  constructor(message: string) {
    super(message);
    this.name = 'MigrationBusyError';
  }
}

export type DirectoryCounts = Record<keyof DirectoryDump, number>;
export interface MailboxCounts { readonly users: number; readonly folders: number; readonly messages: number; readonly copied: number; readonly skipped: number }
export interface QueueCounts { readonly messages: number; readonly copied: number; readonly skipped: number; readonly envelopes: number }

/** A directory backend that takes a dump. */
export interface DumpTarget extends Directory {
  importDump(d: DirectoryDump): Promise<void>;
}
/** A queue store that takes messages with their ids and envelopes as they are. */
export interface QueueTarget {
  /** `body` is streamed into the target (never held whole); destroyed when the message is there already */
  importMessage(id: MessageId, body: Readable, envelopes: readonly Envelope[]): Promise<boolean>;
  countMessages(ids: readonly MessageId[]): Promise<{ messages: number; envelopes: number }>;
}

/** Writes `dump` into `dst` and checks that every domain, user, alias, list and role is found there (`where`: "in PostgreSQL"). */
export async function copyDirectoryDump(dump: DirectoryDump, dst: DumpTarget, where: string): Promise<DirectoryCounts> {
  await dst.importDump(dump);
  const keys = (xs: readonly string[]): Set<string> => new Set(xs.map(directoryKey));
  const have = {
    domains: keys(await dst.listDomains()),
    users: keys((await dst.listUsers()).map((u) => u.address)),
    aliases: keys((await dst.listAliases()).map((a) => a.name)),
    lists: keys((await dst.listLists()).map((l) => l.address)),
    roles: keys((await dst.listRoles()).map((r) => r.address)),
  };
  const want = {
    domains: dump.domains.map((d) => d.name),
    users: dump.users.map((u) => u.address),
    aliases: dump.aliases.map((a) => a.name),
    lists: dump.lists.map((l) => l.address),
    roles: dump.roles.map((r) => r.address),
  };
  const missing = (Object.keys(want) as (keyof typeof want)[]).flatMap((k) => want[k].filter((x) => !have[k].has(directoryKey(x))).map((x) => `${k}: ${x}`));
  if (missing.length > 0) throw new MigrationCheckError(`directory copy incomplete, missing ${where}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  return dumpCounts(dump);
}

/**
 * Copies every message of `src` that has envelopes into `dst` (a message there already is
 * skipped: resumable), then checks that `dst` holds each with as many envelopes.
 */
export async function copyQueueMessages(src: QueueStore, dst: QueueTarget, where: string): Promise<QueueCounts> {
  const ids: string[] = [];
  let copied = 0;
  let skipped = 0;
  let envelopes = 0;
  for (const id of await src.listMessageIds()) {
    const envs = await src.findMessageEnvelopes(id);
    if (envs.length === 0) continue;
    if (await dst.importMessage(id, await src.openMessage(id), envs)) copied++;
    else skipped++;
    ids.push(id);
    envelopes += envs.length;
  }
  const found = await dst.countMessages(ids);
  if (found.messages !== ids.length || found.envelopes !== envelopes) {
    throw new MigrationCheckError(
      `queue copy does not verify: ${ids.length} messages with ${envelopes} envelopes in the source, ${found.messages} with ${found.envelopes} ${where}` +
        ' (was the queue changed between runs? run correio migrate again with every server stopped)',
    );
  }
  return { messages: ids.length, copied, skipped, envelopes };
}

/** The folders of the source's mailboxes, read one message at a time. */
export type FolderSource = MailFolderStore & { open(user: string, folder: string, key: string): Promise<Readable> };
/** The target's side of the mailboxes: a folder import (pg-mail-import, maildir-import) and the subscriptions. */
export interface FolderTarget {
  openFolder(user: string, folder: string, src: FolderSnapshot, specialUse?: SpecialUse): Promise<FolderImport & { finish?(): Promise<void> }>;
  subscribe(user: string, names: readonly string[]): Promise<void>;
}

/**
 * Copies every folder of `users` (UIDVALIDITY, UIDs, MODSEQs, flags, keywords, dates) and their
 * subscriptions; a UID already in the target is skipped (resumable). Each folder is counted
 * again in the target; a folder the target refuses (another UIDVALIDITY) fails the copy.
 */
export async function copyMailboxFolders(src: FolderSource, users: readonly string[], dst: FolderTarget, where: string): Promise<MailboxCounts> {
  const n = { users: 0, folders: 0, messages: 0, copied: 0, skipped: 0 };
  try {
    for (const user of users) {
      n.users++;
      for (const { name, specialUse } of await src.listFolders(user)) {
        const snap = await src.sync(user, name);
        const imp = await dst.openFolder(user, name, snap, specialUse);
        const uids: number[] = [];
        for (const m of snap.list) {
          if (imp.present.has(m.uid)) n.skipped++;
          else {
            const body = await src.open(user, name, m.key).catch((err: unknown) => {
              if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed meanwhile
              throw err;
            });
            if (!body) continue;
            await imp.add(m, body);
            n.copied++;
          }
          uids.push(m.uid);
        }
        // the expunge record, so QRESYNC clients are told of what left before the move
        const history = await src.expungeHistory?.(user, name);
        const recorded = history ? recordedUids(history).size : 0;
        const expunged = history && imp.expunged ? await imp.expunged(history, uids) : recorded;
        await imp.finish?.();
        const found = await imp.count(uids);
        if (found !== uids.length) {
          throw new MigrationCheckError(`mailbox copy does not verify: ${user} ${name} holds ${uids.length} messages in the source, ${found} ${where}`);
        }
        if (expunged !== recorded) {
          throw new MigrationCheckError(`mailbox copy does not verify: ${user} ${name} records ${recorded} expunged UIDs in the source, ${expunged} ${where}`);
        }
        n.folders++;
        n.messages += uids.length;
      }
      await dst.subscribe(user, await src.listSubscriptions(user));
    }
    return n;
  } catch (err) {
    if (err instanceof MailFolderError) throw new MigrationCheckError(`mailbox copy refused: ${err.message}`);
    throw err;
  }
}

/** The rows of an API token store, as `correio migrate` reads and writes them (SQLite and PostgreSQL). */
export interface TokenRows {
  rows(): Promise<TokenRow[]>;
  /** adds rows as they are, leaving an id already there alone; how many were added */
  importRows(rows: readonly TokenRow[]): Promise<number>;
}
export interface TokenCounts { readonly tokens: number; readonly copied: number }

/** Copies every API token, then finds each again by id with its hash. */
export async function copyApiTokens(src: Pick<TokenRows, 'rows'>, dst: TokenRows, where: string): Promise<TokenCounts> {
  const rows = await src.rows();
  const copied = await dst.importRows(rows);
  const there = new Map((await dst.rows()).map((r) => [r.id, r.hash]));
  const wrong = rows.find((r) => !there.get(r.id)?.equals(r.hash));
  if (wrong) throw new MigrationCheckError(`tokens: ${wrong.id} ${where} is another token; revoke one of them, then run again`);
  return { tokens: rows.length, copied };
}
