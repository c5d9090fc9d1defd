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
 * Standards: RFC 5321 §6.1 (what was acknowledged is kept); seed §2 (spool).
 * Security: nothing damaged is deleted: it goes to corrupt/ for the operator.
 * Limitations: only safe while no other process writes to the spool (hence the lock).
 */
import { readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { MessageId } from '../core/index.js';
import type { DirSyncer } from '../util/index.js';
import { isQueueId } from './queue-ids.js';
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
  const { paths } = s;
  const report: RecoveryReport = { messages: 0, removed: [], corrupted: [] };
  for (const name of await readdir(paths.tmp)) {
    await unlink(join(paths.tmp, name)).catch(() => undefined);
    report.removed.push(`tmp/${name}`);
  }
  const messages = new Set(await readdir(paths.msg));
  for (const name of await readdir(paths.env)) {
    const id = name.endsWith('.json') ? name.slice(0, -5) : '';
    if (name.startsWith('.') || !isQueueId(id) || !messages.has(id)) {
      await unlink(join(paths.env, name)).catch(() => undefined);
      report.removed.push(`env/${name}`);
    }
  }
  // msg/ as listed above (a million names cost over a second of CPU to list again, issue 19):
  // a file renamed in since is a message committed after the listing, never a record's
  const segs = await s.segments.recover(messages);
  report.messages += segs.messages;
  report.removed.push(...segs.removed);
  report.corrupted.push(...segs.corrupted);
  for (const name of messages) {
    if (isQueueId(name)) {
      report.messages++;
      continue;
    }
    await rename(join(paths.msg, name), join(paths.corrupt, `${name}.${Date.now()}`));
    report.corrupted.push(name);
  }
  return report;
}
