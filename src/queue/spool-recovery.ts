/**
 * @module spool-recovery
 * What the files backend does at start (open() as owner) with what a crash or damage left, and
 * how a damaged item is moved aside. The crash windows:
 * - a draft in tmp/ (crash before the rename, or a commit that failed): removed;
 * - a message file whose footer or trailer does not check out, or whose env file does not
 *   parse: moved to corrupt/ (with its env file) when it is first read (the delivering
 *   instance's walk at start reads every one), not here: reading 100,000 deferred messages
 *   twice kept a restart from serving for tens of seconds (issue 19);
 * - an env file without its message: the last envelope was being deleted (the message file is
 *   unlinked first, then the env file): removed. Unlinking in the other order could resurrect
 *   the trailer's delivered envelopes; this order can only leave an orphan nobody reads;
 * - an env override half written: it is written to a dot-named temporary, fsynced and renamed,
 *   so a crash leaves the old state (trailer or previous override) plus a temporary: removed;
 * - a segment whose last records were written but not yet synced: the first record that does
 *   not check out ends the segment; the rest (never acknowledged) is copied to corrupt/ and cut
 *   off (segment-messages.ts). A record damaged later, on a bad block, ends it the same way.
 * What must be known before the server accepts (issue 19: a restart on 1,000,000 deferred
 * messages listed msg/ and env/, a million names each, before listening): tmp/ is emptied (new
 * drafts go there) and the segments are recovered (their index serves every append and read of
 * a record; a new process appends to a segment of its own, never after an old torn tail).
 * Nothing else: message ids in use need not be known (util's uniqueId: the time and 40 random
 * bits; a new id never names an old message), and a leftover env file or a name in msg/ that is
 * not an id harms nobody while it waits. So the server (FsQueueStore `recoverLater`) runs
 * recoverBeforeServing before its listeners and recoverListed beside new work; the argument for
 * each item is at recoverListed.
 * Standards: RFC 5321 §6.1 (what was acknowledged is kept); seed §2 (spool).
 * Security: nothing damaged is deleted: it goes to corrupt/ for the operator.
 * Limitations: only safe while no other process changes the spool's queued messages (hence the
 *   lock; acceptor processes only add new ones); the part that runs beside the server's own
 *   work takes each message's lock for what it removes.
 */
import { opendir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isQueueId, type MessageId } from '../core/index.js';
import type { DirSyncer } from '../util/index.js';
import { NameFilter, dirBuffer } from './spool-scan.js';
import type { SegmentMessages } from './segment-messages.js';
import type { SpoolPaths } from './spool-layout.js';
import { errorCode } from './storage-error.js';

/** What open() found and did; also returned by recover(). */
export interface RecoveryReport {
  /** messages found: message files (not read here) and live segment records */
  messages: number;
  /** leftover drafts, temporary files and orphaned env files removed */
  removed: string[];
  /** items moved to corrupt/ */
  corrupted: string[];
}

/** What recovery needs of the store: a narrow view, no store internals. */
export interface RecoverySubject {
  readonly paths: SpoolPaths;
  readonly segments: SegmentMessages;
  /** runs `fn` while no change to message `id` runs (the store's per-message lock) */
  readonly locked: (id: MessageId, fn: () => Promise<void>) => Promise<void>;
  /** the store is closing: a recovery in the background stops between items */
  readonly closing: () => boolean;
}

/** Moves msg/<id> and env/<id>.json (those present) to corrupt/ and syncs corrupt/. */
export async function moveToCorrupt(paths: SpoolPaths, syncer: DirSyncer, id: MessageId): Promise<string[]> {
  const moved: string[] = [];
  const stamp = `${Date.now()}`;
  for (const [from, name] of [[paths.override(id), `${id}.json`], [join(paths.msg, id), id]] as const) {
    try {
      await rename(from, join(paths.corrupt, `${name}.${stamp}`));
      moved.push(name);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
  await syncer.sync(paths.corrupt);
  return moved;
}

/**
 * Removes leftovers (drafts in tmp/, temporary env files, env files whose message is gone),
 * moves names in msg/ that are not ids to corrupt/, recovers the segments, and counts the
 * messages found. Message files are not read (see the module's header).
 */
export async function recoverSpool(s: RecoverySubject): Promise<RecoveryReport> {
  return recoverListed(s, await recoverBeforeServing(s));
}

/**
 * The part of the recovery that must end before anything is accepted (issue 19): drafts in
 * tmp/ removed (new drafts go there: a later cleanup could take one for a leftover), and the
 * segments recovered (their index is what every append and read of a record uses; a torn tail
 * is cut). Neither lists msg/ or env/: a segment's live record asks for its message's file
 * alone. Cost: tmp/ and the segments, not the queue's size.
 */
export async function recoverBeforeServing(s: RecoverySubject): Promise<RecoveryReport> {
  const { paths } = s;
  const report: RecoveryReport = { messages: 0, removed: [], corrupted: [] };
  for (const name of await readdir(paths.tmp)) {
    await unlink(join(paths.tmp, name)).catch(() => undefined);
    report.removed.push(`tmp/${name}`);
  }
  const segs = await s.segments.recover(fileCheck(paths.msg));
  report.messages += segs.messages;
  report.removed.push(...segs.removed);
  report.corrupted.push(...segs.corrupted);
  return report;
}

/**
 * The rest, which may run while the server accepts and delivers (the listings of msg/ and
 * env/, a million names each in a big queue): adds to `report`. Safe beside new work because
 * - a name in msg/ that is not an id is never one correio writes (drafts and temporaries are
 *   in tmp/): moved to corrupt/ whenever;
 * - an env file or a dot-named temporary of env/ belongs to one message and is only written
 *   under that message's lock (FsQueueStore's putEnvelope and deleteEnvelope): each candidate
 *   is looked at again under the lock, where no write of it can be under way, and removed only
 *   if it is a temporary or its message file is (still) gone. An id is never reused (util's
 *   uniqueId: the time and 40 random bits), so an orphan never belongs to a new message.
 */
export async function recoverListed(s: RecoverySubject, report: RecoveryReport, envStatsBeforeListing = 10_000): Promise<RecoveryReport> {
  const { paths } = s;
  // many env files (over envStatsBeforeListing): the pass over msg/ notes its names in a filter
  // that answers for most of them; a few: each one's message is looked at alone. Both
  // directories are read as streams: a million names are never held (issue 19)
  const messages = (await countUpTo(paths.env, envStatsBeforeListing + 1)) > envStatsBeforeListing ? new NameFilter() : undefined;
  // msg/: the messages counted, names that are not ids moved aside
  for await (const entry of await opendir(paths.msg, { bufferSize: dirBuffer })) {
    const name = entry.name;
    if (isQueueId(name)) {
      report.messages++;
      messages?.add(name);
      continue;
    }
    if (s.closing()) return report;
    await rename(join(paths.msg, name), join(paths.corrupt, `${name}.${Date.now()}`));
    report.corrupted.push(name);
  }
  for await (const entry of await opendir(paths.env, { bufferSize: dirBuffer })) {
    if (s.closing()) return report;
    const name = entry.name;
    const id = envName(name);
    if (id === undefined) {
      await unlink(join(paths.env, name)).catch(() => undefined);
      report.removed.push(`env/${name}`);
      continue;
    }
    // the filter may say "listed" for a message that is not (an orphan then stays), never the reverse
    if (!name.startsWith('.') && messages?.mayHave(id)) continue;
    await s.locked(id, async () => {
      if (!name.startsWith('.') && (await stat(join(paths.msg, id)).then(() => true, () => false))) return;
      // listed as a stream: a temporary met while its write ran was renamed before the lock came
      await unlink(join(paths.env, name)).then(() => report.removed.push(`env/${name}`), () => undefined);
    });
  }
  return report;
}

/** The names in `dir`, counted as a stream up to `max`. */
async function countUpTo(dir: string, max: number): Promise<number> {
  let n = 0;
  for await (const _ of await opendir(dir, { bufferSize: dirBuffer })) if (++n >= max) break;
  return n;
}

/** The message id an env/ name belongs to: `<id>.json`, or its temporary `.<id>.json.tmp-<hex>`; undefined for anything else. */
function envName(name: string): MessageId | undefined {
  const m = /^\.?([0-9a-z]{1,64})\.json(\.tmp-[0-9a-f]+)?$/.exec(name);
  if (!m || name.startsWith('.') !== (m[2] !== undefined)) return undefined;
  return m[1];
}

/**
 * Whether msg/<id> exists, asked per id: a stat each, and after `statsBeforeListing` of them
 * one listing of msg/ answers the rest (many live segment records).
 */
function fileCheck(dir: string, statsBeforeListing = 2000): (id: MessageId) => Promise<boolean> {
  let asked = 0;
  let listed: Promise<Set<string>> | undefined;
  return async (id) => {
    if (++asked > statsBeforeListing) return (await (listed ??= readdir(dir).then((n) => new Set(n)))).has(id);
    return stat(join(dir, id)).then(() => true, (err: unknown) => {
      if (errorCode(err) === 'ENOENT') return false;
      throw err;
    });
  };
}
