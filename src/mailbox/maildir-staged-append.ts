/**
 * @module maildir-staged-append
 * An IMAP APPEND into a Maildir folder in one journal commit (issue 14): the message is written
 * to tmp/ unsynced, given its UID in the folder's log under the folder lock (with its flags and
 * keywords), then its file fsynced (on ext4 that commit also carries the log record's metadata),
 * tmp/ and the log flushed, and only then renamed into cur/, without a wait for cur/'s fsync.
 * The answer goes once the file in tmp/ and its UID are durable; a power loss may still lose
 * the rename. That is made again here, when a process makes the folder's lock file (the first
 * step after a restart): a file in tmp/ whose unique key the UID list names, and that is whole
 * (as long as the S= of that key), is renamed into cur/ with the flags the list holds; one cut
 * short (never answered: the answer waits for its fsync) is removed, and the next listing
 * records its UID as expunged.
 * Standards: the Maildir spec (a file in new/ or cur/ is whole: written and synced in tmp/ first);
 *   RFC 9051 §6.3.12 and RFC 4315 §3 (APPENDUID: the UID answered stays the message's).
 * Security: only names of tmp/ that begin with an APPEND's unique key field (`imap-`) and match
 *   a key of the folder's own UID list are touched; lstat, no link followed.
 * Limitations: Maildir programs other than correio see such a message in tmp/ (not yet theirs)
 *   until correio next makes the folder's lock file after the power loss; the roll-forward
 *   runs under the lock, when no live process of ours can be between the record and the rename
 *   (both happen under the same lock).
 */
import { lstatSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from '../util/index.js';
import { curName } from './maildir-name.js';
import type { IndexEntry } from './uid-index.js';

/** the unique key field of every APPEND's file (maildir-folders: `imap-` and a uniqueId) */
export const appendKeyPrefix = 'imap-';

/** The unique key field of a file name or key: up to its first "." (encodeUniqueKey never gives one). */
function fieldOf(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * Renames into cur/ each whole APPEND file left in `dir`'s tmp/ whose key `entries()` names,
 * and removes the ones cut short; `entries` is read only when tmp/ holds such a file. Run
 * under the folder lock, before the folder is listed.
 */
export async function rollForward(dir: string, entries: () => Promise<ReadonlyMap<string, IndexEntry> | undefined>): Promise<void> {
  let names: string[];
  try {
    // synchronous: tmp/ of a folder holds a few entries at most, in the cache
    names = readdirSync(join(dir, 'tmp')).filter((n) => n.startsWith(appendKeyPrefix));
  } catch {
    return;
  }
  if (names.length === 0) return;
  const known = await entries();
  if (!known) return;
  let placed = 0;
  let removed = 0;
  const byField = new Map<string, [string, IndexEntry]>();
  for (const [key, e] of known) if (key.startsWith(appendKeyPrefix)) byField.set(fieldOf(key), [key, e]);
  for (const name of names) {
    const hit = byField.get(fieldOf(name));
    if (!hit) continue; // not given a UID: an APPEND in progress, or one that failed before its record
    const [key, e] = hit;
    const tmp = join(dir, 'tmp', name);
    const st = lstatSync(tmp, { throwIfNoEntry: false });
    if (!st?.isFile()) continue;
    const size = /,S=(\d+)/.exec(key);
    if (size && st.size === Number(size[1])) {
      renameSync(tmp, join(dir, 'cur', curName(key, e.flags ?? '')));
      placed++;
    } else {
      unlinkSync(tmp);
      removed++;
    }
  }
  if (placed > 0) await fsyncDir(join(dir, 'cur'));
  if (placed + removed > 0) await fsyncDir(join(dir, 'tmp'));
}
