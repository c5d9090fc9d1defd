/**
 * @module message-commands
 * The selected-state commands but FETCH (fetch-command): STORE, SEARCH, COPY, MOVE, EXPUNGE,
 * UID EXPUNGE, CLOSE, and their UID forms; `pick`, the messages a sequence set names.
 * Standards: RFC 9051 §6.4 (CLOSE expunges silently; EXPUNGE; SEARCH; STORE answers FETCH
 *   FLAGS unless .SILENT; COPY with TRYCREATE; UID forms: UIDs that do not exist are ignored,
 *   "*" is the highest UID), §7.5.1 (EXPUNGE order), RFC 4315 (COPYUID, UID EXPUNGE), RFC 6851
 *   (MOVE: COPYUID in an untagged OK, then EXPUNGE; §3.3 atomic per message where the store
 *   can move), RFC 5530 (EXPUNGEISSUED, READ-ONLY via NO; SERVERBUG or UNAVAILABLE when SEARCH
 *   meets a message that exists but cannot be read: read-failure); RFC 7162 §3.1.3 (STORE
 *   UNCHANGEDSINCE: MODIFIED, FETCH MODSEQ even for .SILENT), §3.1.5 (SEARCH MODSEQ: the
 *   highest MODSEQ of the hits), and the HIGHESTMODSEQ of EXPUNGE's tagged OK; RFC 4731
 *   (ESEARCH), RFC 5182 (SEARCHRES: "$"), RFC 9394 (PARTIAL of SEARCH results).
 * Security: sequence numbers out of range are refused (BAD); a read-only (EXAMINE) mailbox is
 *   never changed.
 * Limitations: CHARSETs other than UTF-8 and US-ASCII are refused.
 */
import type { FlagUpdateResult } from '../../core/index.js';
import type { ImapCommand, SearchKey, SequenceSet } from '../../protocol/imap/index.js';
import type { HeaderField } from '../../protocol/mime/index.js';
import { formatSequenceSet, isSavedResult, mergeRanges, partialSlice } from '../../protocol/imap/index.js';
import { esearchParts } from './esearch-response.js';
import { folderError, folderName } from './mailbox-names.js';
import { overQuota } from './quota-commands.js';
import { MessageTooLarge, type LoadedMessage } from './message-reader.js';
import { matches } from './search-matcher.js';
import { MessageUnreadable, readFailure } from './read-failure.js';
import { messageReads } from './search-target.js';
import { cachedSortFields, keepsField, perRead } from './sort-fields.js';
import { flagsOf, splitFlags } from './message-flags.js';
import type { SelectedMailbox, ViewMessage } from './selected-mailbox.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';

interface Picked {
  readonly seq: number;
  readonly m: ViewMessage;
}

/** The messages a set names, in order, each once; a BAD result for sequence numbers out of range. */
export function pick(sel: SelectedMailbox, set: SequenceSet, uid: boolean): Picked[] | TaggedResult {
  const n = sel.exists;
  const saved = isSavedResult(set);
  if (!uid && !saved) {
    for (const r of set) {
      if ((r.from !== Infinity && r.from > n) || (r.to !== Infinity && r.to > n) || (n === 0 && r.from !== Infinity)) {
        return bad('Invalid message sequence number');
      }
    }
  }
  const out: Picked[] = [];
  if (saved) {
    sel.each((m, i) => {
      if (sel.contains(set, m, i + 1, uid)) out.push({ seq: i + 1, m });
    });
    return out;
  }
  // the ranges as the messages hold them ("*" the highest, either end first), merged: each
  // message is then found once, in order, by walking its range (UIDs ascend with the sequence)
  const max = uid ? sel.maxUid : n;
  const ranges = mergeRanges(set.map((r) => {
    const a = r.from === Infinity ? max : r.from;
    const b = r.to === Infinity ? max : r.to;
    return { from: Math.min(a, b), to: Math.max(a, b) };
  }));
  for (const r of ranges) {
    sel.each((m, i) => {
      if ((uid ? m.uid : i + 1) > r.to) return false;
      out.push({ seq: i + 1, m });
    }, uid ? sel.firstAtOrAbove(r.from) : Math.max(1, r.from) - 1);
  }
  return out;
}

/**
 * The message read whole; undefined when it was removed meanwhile (ENOENT). Throws
 * MessageTooLarge, and MessageUnreadable (logged) for any other failure to read it.
 */
export async function load(io: SessionIo, sel: SelectedMailbox, m: ViewMessage): Promise<LoadedMessage | undefined> {
  try {
    return await io.reader.load(io.user, sel.folder, m.key);
  } catch (err) {
    if (err instanceof MessageTooLarge) throw err;
    const failed = readFailure('imap FETCH', { user: io.user, folder: sel.folder, key: m.key }, err);
    if (failed) throw failed;
    return undefined;
  }
}

/** Sends the lines a store change of this session's own command gives (FLAGS for a new keyword). */
export function took(io: SessionIo, sel: SelectedMailbox, r: FlagUpdateResult): void {
  for (const line of sel.took(r.updated, r.highestModseq)) io.untagged(line.slice(2));
  if (r.updated.length > 0) io.ctx.hub.notify(io.user, sel.folder);
}

export async function store(io: SessionIo, sel: SelectedMailbox, c: Extract<ImapCommand, { name: 'STORE' }>): Promise<TaggedResult> {
  if (sel.readOnly) return no('Mailbox is read-only', 'READ-ONLY');
  const picked = pick(sel, c.set, c.uid);
  if (!Array.isArray(picked)) return picked;
  const split = splitFlags(c.flags);
  if (!split) return bad('Invalid system flag');
  if (c.unchangedSince !== undefined) io.enableCondstore();
  const live = picked.filter((p) => !p.m.gone);
  let r: FlagUpdateResult;
  try {
    r = await io.ctx.folders.updateFlags(
      io.user,
      sel.folder,
      live.map((p) => p.m.uid),
      { mode: c.mode, flags: split.letters, keywords: split.keywords },
      c.unchangedSince === undefined ? {} : { unchangedSince: c.unchangedSince },
    );
  } catch (err) {
    return folderError(err);
  }
  took(io, sel, r);
  const updated = new Set(r.updated.map((m) => m.uid));
  const skipped = new Set([...r.modified, ...r.missing]);
  for (const { seq } of live) {
    // read again: took gave the view its own copy of each message changed (see ViewMessage)
    const m = sel.at(seq)!;
    if (skipped.has(m.uid)) continue;
    // RFC 7162 §3.1.3: with CONDSTORE on, a changed message is reported with its MODSEQ even for .SILENT
    const withModseq = io.condstore && (updated.has(m.uid) || !c.silent);
    if (c.silent && !withModseq) continue;
    const parts: string[] = c.uid ? [`UID ${m.uid}`] : [];
    if (!c.silent) parts.push(`FLAGS (${flagsOf(m).join(' ')})`);
    if (withModseq) parts.push(`MODSEQ (${m.modseq})`);
    io.untagged(`${seq} FETCH (${parts.join(' ')})`);
  }
  if (r.modified.length > 0) {
    const failed = c.uid ? [...r.modified] : live.filter((p) => r.modified.includes(p.m.uid)).map((p) => p.seq);
    return ok('Conditional STORE failed for some messages', `MODIFIED ${formatSequenceSet(failed.sort((a, b) => a - b))}`);
  }
  return ok(`${c.uid ? 'UID ' : ''}STORE completed`);
}

/**
 * The UIDs that can match `key` by the store's full-text index, when it has one: the BODY and
 * TEXT keys every match must satisfy (the key itself or one of a top-level AND) narrow the
 * messages to read; undefined when there is nothing to narrow by.
 */
async function textNarrowing(io: SessionIo, sel: SelectedMailbox, key: SearchKey): Promise<ReadonlySet<number> | undefined> {
  const folders = io.ctx.folders;
  if (!folders.textCandidates) return undefined;
  const needles = (key.op === 'and' ? key.keys : [key]).flatMap((k) => (k.op === 'body' || k.op === 'text' ? [k.value] : []));
  let out: Set<number> | undefined;
  for (const needle of needles) {
    const c = await folders.textCandidates(io.user, sel.folder, needle);
    if (c) out = out ? new Set([...out].filter((u) => c.has(u))) : new Set(c);
  }
  return out;
}

/**
 * The messages of the view matching `key`, in mailbox order (SEARCH, SORT, THREAD), with the
 * header fields of those a key read them of.
 */
export async function findMatches(io: SessionIo, sel: SelectedMailbox, key: SearchKey): Promise<{ seq: number; m: ViewMessage; fields?: readonly HeaderField[] }[]> {
  const out: { seq: number; m: ViewMessage; fields?: readonly HeaderField[] }[] = [];
  const narrow = await textNarrowing(io, sel, key);
  // header keys on fields the fetch cache keeps (sort-fields): taken from it, a chunk of messages at a time
  const needed = headerFieldsOf(key);
  const cache = io.ctx.fetchCache && needed.size > 0 && [...needed].every(keepsField) ? io.ctx.fetchCache : undefined;
  let cached: Map<string, readonly HeaderField[]> | undefined;
  for (const [i, m] of sel.entries()) {
    if (cache && i % perRead === 0) {
      const keys: string[] = [];
      for (let seq = i + 1; seq <= Math.min(i + perRead, sel.exists); seq++) {
        const x = sel.at(seq)!;
        if (!x.gone && (!narrow || narrow.has(x.uid))) keys.push(x.key);
      }
      cached = cachedSortFields(cache, io.user, sel.folder, keys);
    }
    if (m.gone) continue;
    // not a candidate of the full-text index: cannot match, and is not read
    if (narrow && !narrow.has(m.uid)) continue;
    const reads = messageReads(io, sel, m, cached?.get(m.key));
    const target = {
      seq: i + 1,
      m,
      maxSeq: sel.exists,
      maxUid: sel.maxUid,
      inSet: (set: SequenceSet, uid: boolean): boolean => sel.contains(set, m, i + 1, uid),
      headers: reads.headers,
      textHas: reads.textHas,
    };
    if (await matches(key, target)) {
      const fields = reads.fieldsRead();
      out.push({ seq: i + 1, m, ...(fields && { fields }) });
    }
  }
  return out;
}

/** The header fields (upper case) the key's header and sent-date keys look at. */
function headerFieldsOf(k: SearchKey, out = new Set<string>()): Set<string> {
  switch (k.op) {
    case 'header':
      out.add(k.field);
      break;
    case 'sentbefore':
    case 'senton':
    case 'sentsince':
      out.add('DATE');
      break;
    case 'not':
      headerFieldsOf(k.key, out);
      break;
    case 'or':
      headerFieldsOf(k.a, out);
      headerFieldsOf(k.b, out);
      break;
    case 'and':
      for (const x of k.keys) headerFieldsOf(x, out);
      break;
    default:
      break;
  }
  return out;
}

function usesModseq(k: SearchKey): boolean {
  switch (k.op) {
    case 'modseq':
      return true;
    case 'not':
      return usesModseq(k.key);
    case 'or':
      return usesModseq(k.a) || usesModseq(k.b);
    case 'and':
      return k.keys.some(usesModseq);
    default:
      return false;
  }
}

/**
 * SEARCH, UID SEARCH, and with RETURN (RFC 4731 ESEARCH: MIN, MAX, COUNT, ALL; RFC 5182
 * SEARCHRES: SAVE keeps the result for "$"; RFC 9394 PARTIAL: a page of the result).
 */
export async function search(io: SessionIo, sel: SelectedMailbox, c: Extract<ImapCommand, { name: 'SEARCH' }>, tag: string): Promise<TaggedResult> {
  const save = c.returns?.includes('SAVE') ?? false;
  // RFC 6855 §3: after ENABLE UTF8=ACCEPT a CHARSET is a conflicting label
  if (c.charset !== undefined && io.utf8) return bad('No CHARSET after ENABLE UTF8=ACCEPT');
  if (c.charset !== undefined && c.charset !== 'UTF-8' && c.charset !== 'US-ASCII') {
    // RFC 5182 §2.1: a SEARCH that fails leaves an empty saved result
    if (save) sel.saved = new Set();
    return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  }
  const withModseq = usesModseq(c.key);
  if (withModseq) io.enableCondstore();
  let hits: Awaited<ReturnType<typeof findMatches>>;
  try {
    hits = await findMatches(io, sel, c.key);
  } catch (err) {
    if (!(err instanceof MessageUnreadable)) throw err;
    // RFC 5182 §2.1: a SEARCH that fails leaves an empty saved result
    if (save) sel.saved = new Set();
    return err.result;
  }
  const found = hits.map((h) => h.m);
  const seqs = hits.map((h) => h.seq);
  const done = ok(`${c.uid ? 'UID ' : ''}SEARCH completed`);
  const nums = c.uid ? found.map((m) => m.uid) : seqs;
  const topOf = (ms: readonly ViewMessage[]): number => ms.reduce((a, m) => Math.max(a, m.modseq), 0);
  // RFC 9051 §6.4.4: IMAP4rev2 answers every SEARCH with ESEARCH, ALL when no RETURN is given
  const returns = c.returns ?? (io.rev2 ? [] : undefined);
  if (returns === undefined) {
    // RFC 7162 §3.1.5: with a MODSEQ key, the highest MODSEQ of the messages found
    const tail = withModseq && found.length > 0 ? ` (MODSEQ ${topOf(found)})` : '';
    io.untagged(nums.length === 0 ? 'SEARCH' : `SEARCH ${nums.join(' ')}${tail}`);
    return done;
  }
  // RFC 4731 §3.1: RETURN () means ALL
  const want = new Set(returns.length === 0 ? ['ALL'] : returns);
  const some = want.has('ALL') || want.has('COUNT');
  const ends = found.length === 0 ? [] : [...new Set([want.has('MIN') ? 0 : -1, want.has('MAX') ? found.length - 1 : -1])].filter((x) => x >= 0);
  // RFC 5182 §2.4: SAVE with MIN and/or MAX (and not ALL or COUNT) only keeps those; PARTIAL
  // does not change what is saved (the whole result, as §2.4 reads)
  const onlyEnds = !some && !c.partial && (want.has('MIN') || want.has('MAX'));
  if (save) sel.saved = new Set((onlyEnds ? ends.map((x) => found[x]) : found).map((m) => m.uid));
  want.delete('SAVE');
  // RFC 5182 §2.1: RETURN (SAVE) alone gives no ESEARCH response
  if (want.size === 0) return done;
  const parts = esearchParts(tag, c.uid, want, nums, false, c.partial);
  // RFC 7162 §3.1.5: MODSEQ of what is returned (all matches when ALL or COUNT is)
  const returned = c.partial && !some ? partialSlice(found, c.partial) : some ? found : ends.map((x) => found[x]);
  if (withModseq && returned.length > 0) parts.push(`MODSEQ ${topOf(returned)}`);
  io.untagged(parts.join(' '));
  return done;
}

export async function copyOrMove(io: SessionIo, sel: SelectedMailbox, c: Extract<ImapCommand, { name: 'COPY' | 'MOVE' }>): Promise<TaggedResult> {
  if (c.name === 'MOVE' && sel.readOnly) return no('Mailbox is read-only', 'READ-ONLY');
  const target = folderName(io, c.mailbox);
  if (target === undefined) return no('Invalid mailbox name', 'CANNOT');
  const picked = pick(sel, c.set, c.uid);
  if (!Array.isArray(picked)) return picked;
  const live = picked.filter((p) => !p.m.gone);
  if (live.length === 0) return c.uid ? ok(`${c.name} completed`) : no('Some messages were expunged', 'EXPUNGEISSUED');
  const folders = io.ctx.folders;
  // RFC 6851 §3.3: a store that can move keeps each message in exactly one folder, even through a crash
  const atomic = c.name === 'MOVE' && target !== sel.folder && folders.move !== undefined;
  let r: { uidValidity: number; uids: number[]; moved?: string[] };
  try {
    if (!(await folders.folderExists(io.user, target))) return no('Mailbox does not exist', 'TRYCREATE');
    // RFC 9208 §5.3: a COPY adds to the user's one quota root; a MOVE within it adds nothing
    const full = c.name === 'COPY' ? await overQuota(io, live.reduce((n, p) => n + p.m.size, 0), live.length) : undefined;
    if (full) return full;
    const keys = live.map((p) => p.m.key);
    r = atomic ? await folders.move!(io.user, sel.folder, keys, target) : await folders.copy(io.user, sel.folder, keys, target);
  } catch (err) {
    return folderError(err);
  }
  io.ctx.hub.notify(io.user, target);
  if (target === sel.folder) sel.dirty = true;
  const moved = r.moved ? new Set(r.moved) : undefined;
  const done = moved ? live.filter((p) => moved.has(p.m.key)) : live;
  const code = done.length > 0 && r.uids.length === done.length ? `COPYUID ${r.uidValidity} ${formatSequenceSet(done.map((p) => p.m.uid))} ${formatSequenceSet(r.uids)}` : undefined;
  if (c.name === 'COPY') return ok('COPY completed', code);
  // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs
  if (code) io.untagged(`OK [${code}] Moved`);
  for (const p of done) {
    if (!atomic) await folders.remove(io.user, sel.folder, p.m.key);
    io.ctx.fetchCache?.drop(io.user, sel.folder, p.m.key);
    sel.markGone(p.seq);
  }
  io.ctx.hub.notify(io.user, sel.folder);
  for (const line of await sel.refresh(true, true)) io.untagged(line.slice(2));
  for (const line of sel.reportGone()) io.untagged(line.slice(2));
  return ok('MOVE completed');
}

/** EXPUNGE (all \Deleted) or UID EXPUNGE (those in `set`); `silent` for CLOSE. */
export async function expunge(io: SessionIo, sel: SelectedMailbox, set: SequenceSet | undefined, silent: boolean): Promise<TaggedResult> {
  if (sel.readOnly) return silent ? ok('CLOSE completed') : no('Mailbox is read-only', 'READ-ONLY');
  let removed = false;
  // UID EXPUNGE: the messages of its set, found by search per range (pick); EXPUNGE: every one
  const named = set ? (pick(sel, set, true) as Picked[]) : undefined;
  const doomed: number[] = [];
  const consider = (m: ViewMessage, seq: number): void => {
    if (!m.gone && m.flags.includes('T')) doomed.push(seq);
  };
  if (named) for (const p of named) consider(p.m, p.seq);
  else sel.each((m, i) => consider(m, i + 1));
  for (const seq of doomed) {
    const m = sel.at(seq)!;
    await io.ctx.folders.remove(io.user, sel.folder, m.key);
    io.ctx.fetchCache?.drop(io.user, sel.folder, m.key);
    sel.markGone(seq);
    removed = true;
  }
  if (removed) io.ctx.hub.notify(io.user, sel.folder);
  if (silent) return ok('CLOSE completed');
  // a fresh look at the folder: its HIGHESTMODSEQ now counts these expunges
  for (const line of await sel.refresh(true, true)) io.untagged(line.slice(2));
  for (const line of sel.reportGone()) io.untagged(line.slice(2));
  return ok(`${set ? 'UID ' : ''}EXPUNGE completed`, io.condstore ? `HIGHESTMODSEQ ${sel.highestModseq}` : undefined);
}
