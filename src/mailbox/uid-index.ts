/**
 * @module uid-index
 * The per-folder state of a Maildir folder (the file `correio-uidlist`, like Dovecot's
 * dovecot-uidlist): UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, and for every message key its UID,
 * MODSEQ, the flags last seen and its keywords; plus a record of recent expunges (UIDs and the
 * MODSEQ at which they went) for QRESYNC's VANISHED and JMAP's changes. Pure: parse, format,
 * the reconciliation with a folder listing, flag changes, and the changes since a MODSEQ.
 * Format (version 3): a first line "C3 <uidvalidity> <uidnext> <highestmodseq> <expungefloor>
 *   <generation>", then one "<uid> <modseq> <flags or -> <key> [keyword ...]" line per message
 *   in ascending UID order, then "E <modseq> <uid set>" lines, oldest first. The generation (hex,
 *   new at each write of the whole list) names the list the change log `correio-uidlog` goes on
 *   from (uid-log). Version 2 (the same without the generation) and version 1 ("C1
 *   <uidvalidity> <uidnext>", "<uid> <key>") are read; from version 1 every message gets MODSEQ 1.
 * Standards: RFC 9051 §2.3.1.1 (UIDs strictly ascending in arrival order, never reused while
 *   UIDVALIDITY stays; a lost list means a new UIDVALIDITY, greater than the old one); RFC 7162
 *   §3.1 (a MODSEQ per message, growing with every change; HIGHESTMODSEQ; one command's changes
 *   may share a value), §3.2.5.1 and §3.2.6 (VANISHED (EARLIER) may name UIDs expunged before
 *   the client's MODSEQ: what an expunge record that was cut short cannot tell is answered
 *   with every missing UID); RFC 9051 §2.3.2 (keywords: atoms, case-insensitive).
 * Security: a malformed file is treated as missing (a new UIDVALIDITY), never trusted in part.
 * Limitations: a whole list is O(messages) to write (uid-log appends changes between such
 *   writes); only the last `maxExpungeRecords` expunge records are kept (older questions get
 *   the safe, larger answer).
 */
import { MailFolderError, type ExpungeHistory, type FlagChange, type FolderMessage, type FolderSnapshot, type MailboxMessage, type UidRange } from '../core/index.js';
import { formatRanges, mergeRanges, parseSequenceSet, rangesOf } from '../protocol/imap/sequence-set.js';

export interface IndexEntry {
  readonly uid: number;
  readonly modseq: number;
  /** the Maildir info flags last seen; undefined after an upgrade from version 1 */
  readonly flags: string | undefined;
  readonly keywords: readonly string[];
}

export interface ExpungeRecord {
  readonly modseq: number;
  readonly uids: readonly UidRange[];
}

export interface UidIndex {
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly highestModseq: number;
  /** expunges at or below this MODSEQ are no longer recorded one by one */
  readonly expungeFloor: number;
  /** key → entry */
  readonly entries: ReadonlyMap<string, IndexEntry>;
  readonly expunged: readonly ExpungeRecord[];
  /** version 3: the generation of the written list (uid-log); absent in older versions */
  readonly generation?: string;
}

export const uidListName = 'correio-uidlist';
/** the last UIDVALIDITY given to a folder of the user, in the Maildir root */
export const uidValidityName = 'correio-uidvalidity';
export const maxExpungeRecords = 500;
const keywordRe = /^[^\s(){%*"\\\]\x00-\x1f\x7f]{1,100}$/;

/** Whether a keyword can be stored (an IMAP atom without "]", at most 100 characters). */
export function validKeyword(k: string): boolean {
  return keywordRe.test(k);
}

/** Refuses keywords the list could not hold (before anything is changed). */
export function checkKeywords(kws: readonly string[] | undefined): void {
  const bad = kws?.find((k) => !validKeyword(k));
  if (bad !== undefined) throw new MailFolderError('cannot', `keyword "${bad.slice(0, 40)}" is not an atom of at most 100 characters`);
}

export function emptyIndex(uidValidity: number): UidIndex {
  return { uidValidity, uidNext: 1, highestModseq: 1, expungeFloor: 0, entries: new Map(), expunged: [] };
}

function ranges(text: string): UidRange[] | undefined {
  const set = parseSequenceSet(text);
  if (!set || set.some((r) => r.to === Infinity || r.from < 1)) return undefined;
  return set.map((r) => ({ from: r.from, to: r.to }));
}

/** One message line of version 2 and up ("<uid> <modseq> <flags or -> <key> [keyword ...]"); undefined when malformed. */
export function parseEntryLine(line: string): { key: string; entry: IndexEntry } | undefined {
  const [u, ms, fl, k, ...kws] = line.split(' ');
  if (!/^\d{1,10}$/.test(u ?? '') || !/^\d{1,15}$/.test(ms ?? '') || !/^(-|[A-Za-z]+)$/.test(fl ?? '') || !k || !kws.every(validKeyword)) return undefined;
  return { key: k, entry: { uid: Number(u), modseq: Number(ms), flags: fl === '-' ? '' : fl, keywords: kws } };
}

export function formatEntryLine(key: string, e: IndexEntry): string {
  return [e.uid, e.modseq, e.flags || '-', key, ...e.keywords].join(' ');
}

/** The UID ranges of an "E" line's set; undefined when malformed. */
export function parseUidRanges(text: string): UidRange[] | undefined {
  return ranges(text);
}

export function parseUidIndex(text: string): UidIndex | undefined {
  const lines = text.split('\n');
  const v1 = /^C1 (\d{1,10}) (\d{1,10})$/.exec(lines[0] ?? '');
  const v2 = /^C([23]) (\d{1,10}) (\d{1,10}) (\d{1,15}) (\d{1,15})(?: ([0-9a-f]{1,16}))?$/.exec(lines[0] ?? '');
  if (v2 && (v2[1] === '3') !== (v2[6] !== undefined)) return undefined;
  const head = v2 ? v2.slice(1) : v1;
  if (!head) return undefined;
  const uidValidity = Number(head[1]);
  const uidNext = Number(head[2]);
  const highestModseq = v2 ? Number(v2[4]) : 1;
  const expungeFloor = v2 ? Number(v2[5]) : 1;
  if (uidValidity < 1 || uidValidity > 0xffffffff || uidNext < 1 || uidNext > 0xffffffff || highestModseq < 1) return undefined;
  const entries = new Map<string, IndexEntry>();
  const expunged: ExpungeRecord[] = [];
  let last = 0;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (v2 && line.startsWith('E ')) {
      const m = /^E (\d{1,15}) (\S+)$/.exec(line);
      const uids = m ? ranges(m[2]) : undefined;
      if (!m || !uids || Number(m[1]) > highestModseq) return undefined;
      expunged.push({ modseq: Number(m[1]), uids });
      continue;
    }
    let parsed: { key: string; entry: IndexEntry } | undefined;
    if (v2) {
      parsed = parseEntryLine(line);
      if (!parsed || parsed.entry.modseq > highestModseq) return undefined;
    } else {
      const m = /^(\d{1,10}) (\S+)$/.exec(line);
      if (!m) return undefined;
      parsed = { key: m[2], entry: { uid: Number(m[1]), modseq: 1, flags: undefined, keywords: [] } };
    }
    const { key, entry } = parsed;
    if (entry.uid <= last || entry.uid >= uidNext) return undefined;
    last = entry.uid;
    entries.set(key, entry);
  }
  const ix = { uidValidity, uidNext, highestModseq, expungeFloor, entries, expunged };
  return v2?.[6] === undefined ? ix : { ...ix, generation: v2[6] };
}

/** The whole list; version 3 when the index has a generation, else version 2. */
export function formatUidIndex(ix: UidIndex): string {
  const rows = [...ix.entries].sort((a, b) => a[1].uid - b[1].uid).map(([k, e]) => formatEntryLine(k, e));
  const exp = ix.expunged.map((r) => `E ${r.modseq} ${formatRanges(r.uids)}`);
  const head = `${ix.uidValidity} ${ix.uidNext} ${ix.highestModseq} ${ix.expungeFloor}`;
  return [ix.generation === undefined ? `C2 ${head}` : `C3 ${head} ${ix.generation}`, ...rows, ...exp, ''].join('\n');
}

/** A fresh UIDVALIDITY: the time in seconds, and always above an earlier one. */
export function newUidValidity(nowMs: number, previous = 0): number {
  return Math.max(Math.floor(nowMs / 1000) % 0xffffffff || 1, previous + 1);
}

function toRanges(uids: number[]): UidRange[] {
  return rangesOf([...uids].sort((a, b) => a - b));
}

/** Ranges per expunge record line (a parse reads at most 10,000 ranges in a set). */
const rangesPerRecord = 1000;

export function withExpunges(records: readonly ExpungeRecord[], floor: number, modseq: number, uids: UidRange[]): { expunged: ExpungeRecord[]; expungeFloor: number } {
  const expunged = [...records];
  for (let i = 0; i < uids.length; i += rangesPerRecord) expunged.push({ modseq, uids: uids.slice(i, i + rangesPerRecord) });
  let expungeFloor = floor;
  while (expunged.length > maxExpungeRecords) expungeFloor = expunged.shift()!.modseq;
  return { expunged, expungeFloor };
}

/** A folder's head and its messages as an array, in UID order (the state makes a FolderSnapshot of it). */
export type ReconciledSnapshot = Pick<FolderSnapshot, 'uidValidity' | 'uidNext' | 'highestModseq'> & { readonly messages: readonly FolderMessage[] };

/** The snapshot of an index: the messages in UID order with their listing's size and date. */
function snapshotOf(ix: UidIndex, listing: ReadonlyMap<string, MailboxMessage>): ReconciledSnapshot {
  const messages: FolderMessage[] = [];
  for (const [key, e] of ix.entries) {
    const m = listing.get(key);
    if (!m) continue;
    messages.push({ uid: e.uid, key, flags: m.flags, keywords: e.keywords, modseq: e.modseq, size: m.size, receivedAt: m.receivedAt });
  }
  messages.sort((a, b) => a.uid - b.uid);
  return { uidValidity: ix.uidValidity, uidNext: ix.uidNext, highestModseq: ix.highestModseq, messages };
}

/**
 * Brings the index up to a folder listing: known keys keep their UIDs, new ones get the next
 * UIDs in arrival order (then key order), keys no longer listed are recorded as expunged, and
 * flags changed by anyone (another program renaming the file too) get a new MODSEQ. All the
 * changes of one reconciliation share one new MODSEQ. `keywords` gives new keys their
 * keywords (APPEND, COPY).
 */
export function reconcile(
  ix: UidIndex,
  listing: readonly MailboxMessage[],
  keywords?: ReadonlyMap<string, readonly string[]>,
): { index: UidIndex; snapshot: ReconciledSnapshot; changed: boolean } {
  const byKey = new Map(listing.map((m) => [m.key, m]));
  const modseq = ix.highestModseq + 1;
  let bumped = false;
  let rewrite = false;
  const entries = new Map<string, IndexEntry>();
  const gone: number[] = [];
  for (const [key, e] of ix.entries) {
    const m = byKey.get(key);
    if (!m) {
      gone.push(e.uid);
      continue;
    }
    if (e.flags === undefined) {
      entries.set(key, { ...e, flags: m.flags });
      rewrite = true;
    } else if (e.flags !== m.flags) {
      entries.set(key, { ...e, flags: m.flags, modseq });
      bumped = true;
    } else entries.set(key, e);
  }
  const fresh = listing.filter((m) => !ix.entries.has(m.key));
  fresh.sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let next = ix.uidNext;
  for (const m of fresh) {
    entries.set(m.key, { uid: next++, modseq, flags: m.flags, keywords: keywords?.get(m.key) ?? [] });
    bumped = true;
  }
  let exp = { expunged: [...ix.expunged], expungeFloor: ix.expungeFloor };
  if (gone.length > 0) {
    exp = withExpunges(ix.expunged, ix.expungeFloor, modseq, toRanges(gone));
    bumped = true;
  }
  const index: UidIndex = { ...ix, uidNext: next, highestModseq: bumped ? modseq : ix.highestModseq, ...exp, entries };
  return { index, snapshot: snapshotOf(index, byKey), changed: bumped || rewrite };
}

/**
 * reconcile for the keys `touched` only (those whose files this process renamed, linked or
 * removed, maildir-journal): the same rules, in O(touched). `entries` is the index's own map,
 * changed in place; the keys whose entries changed (set or deleted) are returned for the log.
 */
export function reconcileTouched(
  ix: UidIndex,
  entries: Map<string, IndexEntry>,
  listing: ReadonlyMap<string, MailboxMessage>,
  touched: Iterable<string>,
  keywords?: ReadonlyMap<string, readonly string[]>,
): { index: UidIndex; changed: string[]; gone: number[] } {
  const modseq = ix.highestModseq + 1;
  let bumped = false;
  const changed: string[] = [];
  const gone: number[] = [];
  const fresh: MailboxMessage[] = [];
  for (const key of touched) {
    const e = entries.get(key);
    const m = listing.get(key);
    if (!m) {
      if (!e) continue;
      gone.push(e.uid);
      entries.delete(key);
      changed.push(key);
    } else if (!e) fresh.push(m);
    else if (e.flags === undefined) {
      entries.set(key, { ...e, flags: m.flags });
      changed.push(key);
    } else if (e.flags !== m.flags) {
      entries.set(key, { ...e, flags: m.flags, modseq });
      changed.push(key);
      bumped = true;
    }
  }
  fresh.sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let next = ix.uidNext;
  for (const m of fresh) {
    entries.set(m.key, { uid: next++, modseq, flags: m.flags, keywords: keywords?.get(m.key) ?? [] });
    changed.push(m.key);
    bumped = true;
  }
  let exp = { expunged: ix.expunged, expungeFloor: ix.expungeFloor };
  if (gone.length > 0) {
    exp = withExpunges(ix.expunged, ix.expungeFloor, modseq, toRanges(gone));
    bumped = true;
  }
  return { index: { ...ix, uidNext: next, highestModseq: bumped ? modseq : ix.highestModseq, ...exp, entries }, changed, gone };
}

/** The new Maildir flags and keywords of one message under a change. */
export function applyChange(flags: string, keywords: readonly string[], c: FlagChange): { flags: string; keywords: string[] } {
  checkKeywords(c.keywords);
  const norm = (s: string): string => [...new Set(s)].sort().join('');
  const letters = c.flags ?? '';
  const kwUpper = new Set((c.keywords ?? []).map((k) => k.toUpperCase()));
  switch (c.mode) {
    case 'set': {
      // letters with no IMAP/JMAP meaning (Maildir "P", passed) are kept whatever is set
      const keep = [...flags].filter((x) => !'DFRST'.includes(x)).join('');
      return { flags: norm(letters + keep), keywords: c.keywords ? dedupe(c.keywords) : [...keywords] };
    }
    case 'add':
      return { flags: norm(flags + letters), keywords: dedupe([...keywords, ...(c.keywords ?? [])]) };
    case 'remove':
      return { flags: norm([...flags].filter((x) => !letters.includes(x)).join('')), keywords: keywords.filter((k) => !kwUpper.has(k.toUpperCase())) };
  }
}

function dedupe(kws: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const k of kws) {
    const u = k.toUpperCase();
    if (seen.has(u)) continue;
    seen.add(u);
    out.push(k);
  }
  return out;
}

/**
 * What one STORE does to one message: 'missing' (not in the folder), 'modified' (its MODSEQ is
 * above UNCHANGEDSINCE, RFC 7162 §3.1.3: left alone), 'same' (nothing to change), or its new
 * flags and keywords. Shared by every MailFolderStore backend's updateFlags.
 */
export function flagStep(
  m: { readonly flags: string; readonly keywords: readonly string[]; readonly modseq: number } | undefined,
  change: FlagChange,
  unchangedSince: number | undefined,
): 'missing' | 'modified' | 'same' | { flags: string; keywords: string[] } {
  if (!m) return 'missing';
  if (unchangedSince !== undefined && m.modseq > unchangedSince) return 'modified';
  const next = applyChange(m.flags, m.keywords, change);
  return next.flags === m.flags && sameKeywords(next.keywords, m.keywords) ? 'same' : next;
}

/** Whether two keyword lists hold the same keywords (case-insensitive, any order). */
export function sameKeywords(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((k) => k.toUpperCase()));
  return b.every((k) => s.has(k.toUpperCase()));
}

/**
 * The UIDs expunged after `since`: O(records) from the expunge records. When they no longer
 * reach back that far, every UID below UIDNEXT that is not in the folder (RFC 7162 allows
 * naming UIDs expunged earlier), from `present` (the folder's messages in ascending UID order,
 * as a snapshot has them) when given, else from the index's entries sorted.
 */
export function vanishedSince(ix: UidIndex, since: number, present?: Iterable<{ readonly uid: number }>): UidRange[] {
  if (since < ix.expungeFloor) {
    const uids = present ? Array.from(present, (m) => m.uid) : [...ix.entries.values()].map((e) => e.uid).sort((a, b) => a - b);
    const out: UidRange[] = [];
    let from = 1;
    for (const u of uids) {
      if (u > from) out.push({ from, to: u - 1 });
      from = u + 1;
    }
    if (from < ix.uidNext) out.push({ from, to: ix.uidNext - 1 });
    return out;
  }
  const all = ix.expunged.filter((r) => r.modseq > since).flatMap((r) => r.uids);
  return mergeRanges(all);
}

/** UIDs of an expunge record, one by one (bounded: a folder's UIDs are below its UIDNEXT). */
export function recordedUids(h: ExpungeHistory): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of h.records) for (const { from, to } of r.uids) for (let u = from; u <= to; u++) out.set(u, Math.max(out.get(u) ?? 0, r.modseq));
  return out;
}
