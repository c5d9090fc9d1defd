/**
 * @module uid-index
 * The per-folder UID list of a Maildir folder (the file `correio-uidlist`, like Dovecot's
 * dovecot-uidlist): UIDVALIDITY, UIDNEXT and the UID of every message key. Pure: parse,
 * format and the assignment of UIDs to a folder listing.
 * Format: a first line "C1 <uidvalidity> <uidnext>", then one "<uid> <key>" line per message in
 *   ascending UID order.
 * Standards: RFC 9051 §2.3.1.1 (UIDs strictly ascending in arrival order, never reused while
 *   UIDVALIDITY stays; a lost list means a new UIDVALIDITY, greater than the old one).
 * Security: a malformed file is treated as missing (a new UIDVALIDITY), never trusted in part.
 * Limitations: the whole list is rewritten on each change (O(messages)).
 */
import type { FolderMessage, FolderSnapshot, MailboxMessage } from '../core/index.js';

export interface UidIndex {
  readonly uidValidity: number;
  readonly uidNext: number;
  /** key → uid */
  readonly uids: ReadonlyMap<string, number>;
}

export const uidListName = 'correio-uidlist';

export function parseUidIndex(text: string): UidIndex | undefined {
  const lines = text.split('\n');
  const head = /^C1 (\d{1,10}) (\d{1,10})$/.exec(lines[0] ?? '');
  if (!head) return undefined;
  const uidValidity = Number(head[1]);
  const uidNext = Number(head[2]);
  if (uidValidity < 1 || uidValidity > 0xffffffff || uidNext < 1 || uidNext > 0xffffffff) return undefined;
  const uids = new Map<string, number>();
  let last = 0;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const m = /^(\d{1,10}) (\S+)$/.exec(line);
    if (!m) return undefined;
    const uid = Number(m[1]);
    if (uid <= last || uid >= uidNext) return undefined;
    last = uid;
    uids.set(m[2], uid);
  }
  return { uidValidity, uidNext, uids };
}

export function formatUidIndex(ix: UidIndex): string {
  const rows = [...ix.uids].sort((a, b) => a[1] - b[1]).map(([k, u]) => `${u} ${k}`);
  return [`C1 ${ix.uidValidity} ${ix.uidNext}`, ...rows, ''].join('\n');
}

/** A fresh UIDVALIDITY: the time in seconds, and always above an earlier one. */
export function newUidValidity(nowMs: number, previous = 0): number {
  return Math.max(Math.floor(nowMs / 1000) % 0xffffffff || 1, previous + 1);
}

/**
 * Gives UIDs to a folder listing: known keys keep theirs, new ones get the next UIDs in arrival
 * order (then key order); keys no longer listed are forgotten (their UIDs are never reused,
 * since UIDNEXT only grows).
 */
export function assignUids(ix: UidIndex, listing: readonly MailboxMessage[]): { index: UidIndex; snapshot: FolderSnapshot; changed: boolean } {
  const fresh = listing.filter((m) => !ix.uids.has(m.key));
  fresh.sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const uids = new Map<string, number>();
  const messages: FolderMessage[] = [];
  for (const m of listing) {
    const uid = ix.uids.get(m.key);
    if (uid !== undefined) {
      uids.set(m.key, uid);
      messages.push({ uid, key: m.key, flags: m.flags, size: m.size, receivedAt: m.receivedAt });
    }
  }
  let next = ix.uidNext;
  for (const m of fresh) {
    uids.set(m.key, next);
    messages.push({ uid: next, key: m.key, flags: m.flags, size: m.size, receivedAt: m.receivedAt });
    next++;
  }
  messages.sort((a, b) => a.uid - b.uid);
  const changed = fresh.length > 0 || uids.size !== ix.uids.size;
  const index = { uidValidity: ix.uidValidity, uidNext: next, uids };
  return { index, snapshot: { uidValidity: ix.uidValidity, uidNext: next, messages }, changed };
}
