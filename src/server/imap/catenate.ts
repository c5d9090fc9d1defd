/**
 * @module catenate
 * The message an APPEND with CATENATE makes: text parts sent in the command and IMAP URLs of
 * messages (or their sections) in the same user's mailboxes, joined in order.
 * Standards: RFC 4469 §5 (cat-part TEXT / URL; a URL names a message or a section the way
 *   BODY.PEEK[section] does, so \Seen is not set), §6 (NO [BADURL url] for a URL that cannot
 *   be read, NO [TOOBIG] when the result is over the limit; nothing is appended then),
 *   RFC 5092 (the URL form, via protocol/imap parseImapUrl; ";PARTIAL=" cuts the octets),
 *   RFC 4315 (UIDVALIDITY checked); RFC 5530 (a message that exists but cannot be read: the
 *   store's failure, read-failure, not a BADURL).
 * Security: only this user's mailboxes: a URL naming another user, or a host that is not
 *   this server's name (or localhost, 127.0.0.1, [::1]), is a BADURL; the result is bounded
 *   by the APPENDLIMIT while it is built (a big message's part counted by its size before it
 *   is read). A message from the APPEND streaming threshold on is not read into memory: its tree
 *   from one streamed pass (for a section), its octets a range of its file, opened when the URL
 *   is checked and read as the store writes the result (CatenatedStream; a read that fails then
 *   is read-failure's answer, nothing stored).
 * Limitations: no URLAUTH. A URL's message is found by UID in the folder's snapshot by binary
 *   search (findByUid, O(log n)): no array of the folder is made.
 */
import { Readable } from 'node:stream';
import { findByUid } from '../../core/index.js';
import { findPart, ImapReader, parseImapUrl, readFetchItems, type CatPart, type FetchItem } from '../../protocol/imap/index.js';
import { sectionData, sectionOctets } from './fetch-section.js';
import { folderName } from './mailbox-names.js';
import { MessageUnreadable, readFailure } from './read-failure.js';
import { appendStreamFromDefault, no, type SessionIo, type TaggedResult } from './session-types.js';

/** url-resp-text (RFC 4469 §6) holds no "]" nor line ends. */
const badUrl = (url: string): TaggedResult => no('Cannot use this URL', `BADURL ${url.replace(/[\]\r\n]/g, '')}`);

/** Octets start..end of a big message's file, read when the message is stored. */
interface FileRange {
  readonly start: number;
  readonly end: number;
  readonly open: () => Promise<Readable>;
  readonly url: string;
  readonly at: { readonly user: string; readonly folder: string; readonly key: string };
}

/**
 * A CATENATE message with a part from a big message: its size, known before it is stored, and
 * its octets as a stream the store reads (each file range read as it is written); `failed` is
 * set when a file could not be read meanwhile (read-failure: the command's answer).
 */
export class CatenatedStream {
  failed: MessageUnreadable | undefined;
  constructor(
    readonly size: number,
    private readonly parts: readonly (Buffer | FileRange)[],
  ) {}

  stream(): Readable {
    return Readable.from(this.#octets(), { objectMode: false });
  }

  async *#octets(): AsyncGenerator<Buffer> {
    for (const p of this.parts) {
      if (Buffer.isBuffer(p)) {
        if (p.length > 0) yield p;
        continue;
      }
      let pos = 0;
      try {
        const src = await p.open();
        try {
          for await (const chunk of src as AsyncIterable<Buffer>) {
            const from = Math.max(0, p.start - pos);
            const to = Math.min(chunk.length, p.end - pos);
            pos += chunk.length;
            if (to > from) yield chunk.subarray(from, to);
            if (pos >= p.end) break;
          }
        } finally {
          src.destroy();
        }
      } catch (err) {
        // removed meanwhile or not readable: the APPEND fails, nothing is stored
        this.failed = readFailure('imap CATENATE', p.at, err) ?? new MessageUnreadable(badUrl(p.url), { cause: err });
        throw this.failed;
      }
      if (pos < p.end) {
        this.failed = new MessageUnreadable(no('A message of the URL was cut short meanwhile', 'UNAVAILABLE'), { cause: undefined });
        throw this.failed;
      }
    }
  }
}

/** The octets a URL names (a range of its file for a big message), or the BADURL refusal. */
async function urlOctets(io: SessionIo, url: string): Promise<Buffer | FileRange | TaggedResult> {
  const u = parseImapUrl(url);
  if (!u) return badUrl(url);
  if (u.user !== undefined && u.user !== io.user.toLowerCase()) return badUrl(url);
  if (u.host !== undefined && ![io.ctx.hostname.toLowerCase(), 'localhost', '127.0.0.1', '[::1]'].includes(u.host)) return badUrl(url);
  // RFC 5092 §3: the mailbox is UTF-8 in the URL
  const folder = folderName({ rev2: true, utf8: true }, Buffer.from(u.mailbox, 'utf8'));
  if (folder === undefined) return badUrl(url);
  let item: Extract<FetchItem, { kind: 'BODY[]' | 'BINARY[]' | 'BINARY.SIZE' }> | undefined;
  if (/[\]<>\r\n]/.test(u.section)) return badUrl(url);
  if (u.section !== '') {
    try {
      const items = readFetchItems(new ImapReader(Buffer.from(`BODY.PEEK[${u.section}]`, 'utf8')));
      if (items.length === 1 && items[0].kind === 'BODY[]') item = items[0];
    } catch {
      // not a section: refused below
    }
    if (!item) return badUrl(url);
  }
  try {
    const snap = await io.ctx.folders.sync(io.user, folder);
    if (u.uidValidity !== undefined && u.uidValidity !== snap.uidValidity) return badUrl(url);
    const m = findByUid(snap.list, u.uid);
    if (!m) return badUrl(url);
    const cut = (from0: number, to0: number): [number, number] => {
      // RFC 5092 §3 ";PARTIAL=o.n" as FETCH's <o.n>: past the end is no octets
      if (!u.partial) return [from0, to0];
      const from = Math.min(from0 + u.partial.origin, to0);
      return [from, u.partial.length === undefined ? to0 : Math.min(to0, from + u.partial.length)];
    };
    if (m.size >= (io.ctx.appendStreamFrom ?? appendStreamFromDefault)) {
      // a big message is not read into memory: its tree (for a section) from one streamed pass,
      // the octets a range of its file read as the message is stored
      const at = { user: io.user, folder, key: m.key };
      const tree = item ? await io.reader.tree(io.user, folder, m.key).catch((err: unknown) => {
        throw readFailure('imap CATENATE', at, err) ?? err;
      }) : undefined;
      if (item && tree && !findPart(tree, item.section.part)) return badUrl(url);
      const d = item && tree ? sectionData({ tree, size: m.size }, item) : { start: 0, end: m.size };
      if (!d) return badUrl(url);
      if (Buffer.isBuffer(d)) {
        const [a, b] = cut(0, d.length);
        return d.subarray(a, b);
      }
      // opened now, so that a message gone or unreadable is answered before anything is stored
      const open = (): Promise<Readable> => io.ctx.folders.open(io.user, folder, m.key);
      (await open().catch((err: unknown) => {
        throw readFailure('imap CATENATE', at, err) ?? err;
      })).destroy();
      const [start, end] = cut(d.start, d.end);
      return { start, end, open, url, at };
    }
    const msg = await io.reader.load(io.user, folder, m.key).catch((err: unknown) => {
      throw readFailure('imap CATENATE', { user: io.user, folder, key: m.key }, err) ?? err;
    });
    // a part that does not exist is a bad URL here (FETCH answers it with "")
    if (item && !findPart(msg.tree, item.section.part)) return badUrl(url);
    const data = item ? sectionOctets(msg, item) : msg.buf;
    if (!data) return badUrl(url);
    const [from, to] = cut(0, data.length);
    return data.subarray(from, to);
  } catch (err) {
    // a message removed meanwhile is a bad URL; one that cannot be read, the store's failure
    return (err instanceof MessageUnreadable && err.result) || badUrl(url);
  }
}

/** The joined message (a stream when a part is of a big message), or the tagged NO that refuses the APPEND. */
export async function catenate(io: SessionIo, parts: readonly CatPart[]): Promise<Buffer | CatenatedStream | TaggedResult> {
  const out: (Buffer | FileRange)[] = [];
  let n = 0;
  let ranges = false;
  for (const p of parts) {
    const data = 'text' in p ? p.text : await urlOctets(io, p.url);
    if (Buffer.isBuffer(data)) n += data.length;
    else if ('open' in data) {
      n += data.end - data.start;
      ranges = true;
    } else return data;
    if (n > io.ctx.appendLimit) return no('Message too large', 'TOOBIG');
    out.push(data);
  }
  return ranges ? new CatenatedStream(n, out) : Buffer.concat(out as Buffer[]);
}
