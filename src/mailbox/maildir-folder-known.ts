/**
 * @module maildir-folder-known
 * What a Maildir folder's state (maildir-folder-state) knows of the folder after its last step,
 * and whether that still holds: what is in new/ and cur/ is known without listing them when
 * only this process changed them. The store's journal (maildir-journal) tells each file it
 * linked, renamed or removed, with stamps of new/ and cur/ (inode, mtime, ctime in ns) around
 * each change; takeIn applies those changes to the known listing while the stamps chain
 * (O(changes)). They do not chain when new/ or cur/ is not as our last change (or listing)
 * left it: another program (a delivery agent, mutt, Dovecot, a CLI) changed it, and the state
 * lists the folder whole. A stamp taken within two seconds of its own mtime is "unsure": a
 * change by another program in the same clock tick as ours leaves mtime and ctime as they were
 * (the tick is a few ms on Linux, up to two seconds on other file systems), so two seconds
 * later verify checks the names in new/ and cur/ against the known listing (no message made of
 * each name, no sort), as the old rule (a stamp younger than two seconds is not trusted) would
 * have found it; a busy folder is so listed at most once per two seconds.
 * Standards: the Maildir spec (names: key and ":2,<flags>" info).
 * Security: paths come from the store's checked directories (maildir-safe-dir); only names this
 *   process gave the file system are taken from the journal.
 * Limitations: another program's change is seen at the next step after it, or up to two
 *   seconds later when it fell in the same clock tick as one of ours; a name without W= in the
 *   journal makes the folder be listed (list() reads the file to size it).
 */
import { lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MailboxMessage } from '../core/index.js';
import type { Delta, ListSnapshot } from './folder-changes.js';
import { dirStamp, stampTime } from './maildir-journal.js';
import { parseName } from './maildir-name.js';
import type { MaildirStore } from './maildir-store.js';
import type { ModseqLog } from './modseq-log.js';
import type { IndexEntry, UidIndex } from './uid-index.js';
import { uidListName } from './uid-index.js';
import { uidLogName, type StoredIndex } from './uid-log.js';

/** a stamp taken within this many ms of its own mtime may hide a change of the same clock tick */
export const unsureMs = 2000;

/** The UID list and its log as inode and size: another process's write changes one of them. */
export function filesStamp(dir: string): string {
  const parts: string[] = [];
  for (const name of [uidListName, uidLogName]) {
    const st = statSync(join(dir, name), { throwIfNoEntry: false, bigint: true });
    parts.push(st ? `${st.ino}:${st.size}` : '-');
  }
  return parts.join('/');
}

/**
 * filesStamp after a step appended to the log it found as `was` (stamped `before`, under the
 * folder lock), worked out instead of stat'ed: the list and the log's inode as before, the log's
 * size the end of what we wrote (uid-log writes at `was.logEnd`, cut there first when longer).
 * A stat would show the same unless another writer changed the files meanwhile, which then
 * shows at the next stamp (a stat here would have taken that change in unseen). Undefined
 * when the step wrote the list or a new log (new inodes: stat them), or there was no stamp.
 */
export function appendedStamp(before: string | undefined, was: StoredIndex | undefined, now: StoredIndex | undefined): string | undefined {
  if (before === undefined || !was || !now || now === was || was.logEnd === 0 || now.logEnd < was.logEnd) return undefined;
  if (now.index.generation === undefined || now.index.generation !== was.index.generation || now.listBytes !== was.listBytes) return undefined;
  const [list, log] = before.split('/');
  const colon = log.indexOf(':');
  if (list === '-' || colon < 0) return undefined;
  return `${list}/${log.slice(0, colon)}:${now.logEnd}`;
}

/** What is known of one folder after its last step. */
export interface Known {
  /** the journal position taken in */
  seq: number;
  /** the stamp of new/ and cur/ the listing below matches */
  expected: string | undefined;
  /** the oldest mtime (ms) of a stamp taken within unsureMs of it since the last listing */
  unsureSince: number | undefined;
  /** the index as the UID list files give it back (the same object while no one else writes) */
  index: UidIndex;
  /** the index's own entries map, changed in place by each step */
  entries: Map<string, IndexEntry>;
  listing: Map<string, MailboxMessage>;
  keys: Map<number, string>;
  snapshot: ListSnapshot;
  deltas: Delta[];
  /** the snapshot's messages by MODSEQ, as far back as known (changedSince) */
  log: ModseqLog;
  /** filesStamp after the last step */
  files: string;
}

/** Whether `k` is still the folder's state: nothing changed by us since, nor by anyone (new/, cur/ and the UID list as we left them). */
export function isCurrent(k: Known, dir: string, store: MaildirStore): boolean {
  if (k.expected === undefined || (k.unsureSince !== undefined && Date.now() >= k.unsureSince + unsureMs)) return false;
  return store.journal.since(dir, k.seq)?.length === 0 && dirStamp(dir) === k.expected && filesStamp(dir) === k.files;
}

/**
 * Whether new/ and cur/ hold exactly what k's listing says (a key and its flags per name),
 * leaving out keys our own changes touched meanwhile (taken in at the next step); k is then
 * sure up to now, as after a listing.
 */
export async function verify(k: Known, store: MaildirStore, user: string, f: string, dir: string): Promise<boolean> {
  const expected = k.expected;
  const wall = Date.now();
  const names = await store.listNames(user, f);
  if (!names || expected === undefined) return false;
  const late = new Set(store.journal.since(dir, k.seq)?.map((e) => e.key) ?? []);
  let count = 0;
  for (const name of names) {
    const colon = name.indexOf(':');
    const key = colon < 0 ? name : name.slice(0, colon);
    if (late.has(key)) continue;
    const m = k.listing.get(key);
    const flags = colon >= 0 && name.startsWith('2,', colon + 1) ? name.slice(colon + 3) : '';
    if (!m || m.flags !== flags) return false;
    count++;
  }
  let known = k.listing.size;
  for (const key of late) if (k.listing.has(key)) known--;
  if (count !== known) return false;
  const t = stampTime(expected);
  k.unsureSince = wall - t < unsureMs ? t : undefined;
  return true;
}

/**
 * Our own changes since `k` taken into its listing (the store's journal); the keys they
 * touched (`verify`: the unsure window passed, see verify), or undefined when the folder
 * must be listed (see the module header).
 */
export function takeIn(k: Known, store: MaildirStore, dir: string, f: string): { keys: Set<string>; verify: boolean } | undefined {
  const entries = store.journal.since(dir, k.seq);
  if (!entries || k.expected === undefined) return undefined;
  let expected = k.expected;
  let unsure = k.unsureSince;
  const wall = Date.now();
  for (const e of entries) {
    if (e.before !== expected || e.after === undefined) return undefined;
    expected = e.after;
    const t = stampTime(expected);
    if (wall - t < unsureMs) unsure = Math.min(unsure ?? t, t);
  }
  // another program changed new/ or cur/ since
  if (dirStamp(dir) !== expected) return undefined;
  const touched = new Set<string>();
  for (const e of entries) {
    touched.add(e.key);
    if (!e.at) {
      k.listing.delete(e.key);
      continue;
    }
    const p = parseName(e.at.name);
    let receivedAt = p.seconds !== undefined ? p.seconds * 1000 : k.listing.get(e.key)?.receivedAt;
    if (receivedAt === undefined) {
      const st = lstatSync(join(dir, e.at.sub, e.at.name), { throwIfNoEntry: false });
      // moved on by a later change of ours: that one's entry places it
      if (!st?.isFile()) continue;
      receivedAt = st.mtimeMs;
    }
    if (p.size === undefined) return undefined; // a name without W=: list() reads the file to size it
    k.listing.set(e.key, { key: e.key, size: p.size, flags: p.flags, receivedAt, folder: f });
  }
  k.seq = entries.length > 0 ? entries[entries.length - 1].seq : k.seq;
  k.expected = expected;
  k.unsureSince = unsure;
  // a change by another program in the clock tick of one of ours may hide in its stamp
  return { keys: touched, verify: unsure !== undefined && wall >= unsure + unsureMs };
}
