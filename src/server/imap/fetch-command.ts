/**
 * @module fetch-command
 * FETCH and UID FETCH: the messages a set names (or, with CHANGEDSINCE, those changed), \Seen
 * set at once for the items that set it, and each message's response written in writes of about
 * 64 KB; a big message is never read whole: its tree comes from one streamed pass over its file
 * (message-reader `tree`, none when every item is its whole octets) and its sections are ranges
 * of the file streamed to the client (fetch-section, fetch-stream).
 * Standards: RFC 9051 §6.4.5 (FETCH; BODY[] without PEEK sets \Seen), §7.5.2 (FETCH response),
 *   RFC 7162 §3.1.4 (FETCH CHANGEDSINCE, MODSEQ), §3.2.6 (UID FETCH VANISHED); RFC 9394
 *   (PARTIAL of FETCH); RFC 5530 (EXPUNGEISSUED, LIMIT, UNKNOWN-CTE).
 * Security: a read-only (EXAMINE) mailbox is never changed (no \Seen); a message removed
 *   meanwhile (ENOENT) is left out as expunged, one that cannot be read for another reason is
 *   left out and the command answers NO [UNAVAILABLE] or [SERVERBUG] (read-failure, logged)
 *   after the others' responses; a \Seen that cannot be written is published on the error
 *   channel (user, folder, uids, errno), the data sent and the answer unchanged; a big message costs its
 *   header blocks and a chunk or two of memory, whatever its size; a smaller one read whole
 *   over the reader's bound (a fetch_stream_from set above it) answers NO [LIMIT].
 * Limitations: see fetch-stream and message-reader.
 */
import type { Readable } from 'node:stream';
import type { ImapCommand, MimePart } from '../../protocol/imap/index.js';
import { partialSlice } from '../../protocol/imap/index.js';
import type { CachedEntry, CachedItem } from './fetch-cache.js';
import { fetchPlan, fetchResponse, planNeedsRead, setsSeen, type BodyRange, type StreamedMessage } from './fetch-response.js';
import { decodedKey, decodedSections, UnknownCte } from './fetch-section.js';
import { BodyCutShort, StreamedBody, streamFromDefault } from './fetch-stream.js';
import { load, pick, took } from './message-commands.js';
import type { LoadedMessage } from './message-reader.js';
import { impliedWriteFailed, MessageUnreadable, readFailure } from './read-failure.js';
import type { SelectedMailbox } from './selected-mailbox.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';

/** Messages whose cached items a FETCH takes from the fetch cache at once. */
const fetchChunk = 500;

export async function fetch(io: SessionIo, sel: SelectedMailbox, c: Extract<ImapCommand, { name: 'FETCH' }>): Promise<TaggedResult> {
  if (c.vanished && (!c.uid || c.changedSince === undefined || !io.qresync)) return bad('VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled');
  const since = c.changedSince;
  // UID FETCH … (CHANGEDSINCE): the store's changes name the messages (O(changes), not a walk of the view)
  const fast = c.uid && since !== undefined ? await sel.changedIn(c.set, since) : undefined;
  const all = fast ? fast.places.map((i) => ({ seq: i + 1, m: sel.at(i + 1)! })) : pick(sel, c.set, c.uid);
  if (!Array.isArray(all)) return all;
  if (since !== undefined || c.items.some((i) => i.kind === 'MODSEQ')) io.enableCondstore();
  if (c.vanished && since !== undefined) {
    const line = fast ? fast.vanished : await sel.vanishedEarlier(since, c.set);
    if (line) io.untagged(line.slice(2));
  }
  // RFC 7162 §3.1.4.1: only messages changed after CHANGEDSINCE; RFC 9394 §3.2: of those, the PARTIAL positions
  const changed = since === undefined || fast ? all : all.filter((p) => p.m.modseq > since);
  const picked = c.partial ? partialSlice(changed, c.partial) : changed;
  const plan = fetchPlan(c.items);
  const streamFrom = io.ctx.fetchStreamFrom ?? streamFromDefault;
  const seenNow = new Set<number>();
  if (setsSeen(c.items) && !sel.readOnly) {
    // \Seen for every message at once: one MODSEQ, one write of the folder's list
    const unseen = picked.filter((p) => !p.m.gone && !p.m.flags.includes('S')).map((p) => p.m.uid);
    if (unseen.length > 0) {
      try {
        const r = await io.ctx.folders.updateFlags(io.user, sel.folder, unseen, { mode: 'add', flags: 'S' });
        took(io, sel, r);
        for (const m of r.updated) seenNow.add(m.uid);
      } catch (err) {
        // the folder cannot be written: the data is still sent (RFC 9051 §6.4.5 asks no NO), \Seen cannot be; logged
        impliedWriteFailed('imap FETCH \\Seen', { user: io.user, folder: sel.folder, uids: unseen }, err);
      }
    }
  }
  let missing = false;
  // the first message that could not be read for another reason than its removal (read-failure)
  let failed: MessageUnreadable | undefined;
  // responses go out in writes of about 64 KB, not one write (and wait) per message
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<boolean> => {
    if (pending.length === 0) return true;
    const data = Buffer.concat(pending);
    pending.length = 0;
    pendingBytes = 0;
    return io.write(data);
  };
  const fc = io.ctx.fetchCache;
  const cachedItems = fc && plan.cached.length > 0 ? fc : undefined;
  // the cached items of the next messages, taken from the cache a chunk at a time (in bulk from
  // its disk tier) rather than one lookup per message
  let entries = new Map<string, CachedEntry>();
  // the message's entry as the response reads it (one object for the command, pointed at each message in turn)
  let entry: CachedEntry | undefined;
  let key = '';
  const cache = cachedItems && { get: (item: CachedItem) => entry?.[item], set: (item: CachedItem, data: Buffer) => cachedItems.set(io.user, sel.folder, key, item, data) };
  for (const [i, { seq }] of picked.entries()) {
    // read again: \Seen set above gave the view its own copy of the message (see ViewMessage)
    const m = sel.at(seq)!;
    if (cachedItems && i % fetchChunk === 0) {
      entries = cachedItems.getMany(io.user, sel.folder, picked.slice(i, i + fetchChunk).flatMap((p) => (p.m.gone ? [] : [p.m.key])), plan.cached);
    }
    if (m.gone) {
      missing = true;
      continue;
    }
    key = m.key;
    entry = entries.get(key);
    let msg: LoadedMessage | StreamedMessage | undefined;
    let streamed: StreamedBody | undefined;
    const open = (): Promise<Readable> => io.ctx.folders.open(io.user, sel.folder, m.key);
    if (m.size >= streamFrom && plan.content && planNeedsRead(plan, cache)) {
      // a big message: its sections are ranges of its file, streamed; its tree (header blocks
      // and offsets) is made by one streamed pass, unless every item is its whole octets
      let decodedSizes: Map<string, number> | undefined;
      let tree: MimePart | undefined;
      try {
        if (!plan.whole || planNeedsRead({ ...plan, readAlways: false }, cache)) tree = await io.reader.tree(io.user, sel.folder, m.key);
        streamed = new StreamedBody(await open(), open);
        for (const d of tree ? decodedSections({ tree, size: m.size }, c.items) : []) (decodedSizes ??= new Map()).set(decodedKey(d), await streamed.decodedSize(d));
      } catch (err) {
        streamed?.close();
        if (err instanceof UnknownCte) {
          await flush();
          return no('Unknown Content-Transfer-Encoding', 'UNKNOWN-CTE');
        }
        if (err instanceof BodyCutShort) throw err;
        // removed meanwhile: as an expunged message; any other failure: the command's NO
        const f = readFailure('imap FETCH', { user: io.user, folder: sel.folder, key: m.key }, err);
        failed ??= f;
        missing = true;
        continue;
      }
      msg = { streamed: true, size: m.size, ...(tree && { tree }), ...(decodedSizes && { decodedSizes }) };
    } else if (plan.content && planNeedsRead(plan, cache)) {
      try {
        msg = await load(io, sel, m);
      } catch (err) {
        if (err instanceof MessageUnreadable) {
          // the other messages are still sent; the command answers the failure
          failed ??= err;
          continue;
        }
        await flush();
        return no('Message too large to fetch', 'LIMIT');
      }
      if (!msg) {
        missing = true;
        continue;
      }
    }
    const flagsChanged = seenNow.has(m.uid);
    let data: Buffer | (Buffer | BodyRange)[];
    try {
      data = fetchResponse(seq, m, c.items, msg, { uid: c.uid, flagsChanged, modseq: since !== undefined || (flagsChanged && io.condstore), ...(cache && { cache }) });
    } catch (err) {
      streamed?.close();
      if (err instanceof UnknownCte) {
        await flush();
        return no('Unknown Content-Transfer-Encoding', 'UNKNOWN-CTE');
      }
      throw err;
    }
    if (!Buffer.isBuffer(data)) {
      // what is pending goes first, then the response's pieces, its ranges read from the file
      try {
        if (!(await flush())) return no('Connection lost');
        for (const piece of data) {
          const sent = Buffer.isBuffer(piece) ? await io.write(piece) : await streamed!.write(piece, (b) => io.write(b));
          if (!sent) return no('Connection lost');
        }
      } finally {
        streamed!.close();
      }
      continue;
    }
    streamed?.close();
    pending.push(data);
    pendingBytes += data.length;
    if (pendingBytes >= 64 * 1024 && !(await flush())) return no('Connection lost');
  }
  if (!(await flush())) return no('Connection lost');
  if (failed) return failed.result;
  if (missing && !c.uid) return no('Some messages were expunged', 'EXPUNGEISSUED');
  return ok(`${c.uid ? 'UID ' : ''}FETCH completed`);
}

