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
 *   by the APPENDLIMIT while it is built.
 * Limitations: no URLAUTH. A URL's message is found by UID in the folder's snapshot by binary
 *   search (findByUid, O(log n)): no array of the folder is made.
 */
import { findByUid } from '../../core/index.js';
import { findPart, ImapReader, parseImapUrl, readFetchItems, type CatPart, type FetchItem } from '../../protocol/imap/index.js';
import { sectionOctets } from './fetch-section.js';
import { folderName } from './mailbox-names.js';
import { MessageUnreadable, readFailure } from './read-failure.js';
import { no, type SessionIo, type TaggedResult } from './session-types.js';

/** url-resp-text (RFC 4469 §6) holds no "]" nor line ends. */
const badUrl = (url: string): TaggedResult => no('Cannot use this URL', `BADURL ${url.replace(/[\]\r\n]/g, '')}`);

/** The octets a URL names, or the BADURL refusal. */
async function urlOctets(io: SessionIo, url: string): Promise<Buffer | TaggedResult> {
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
    const msg = await io.reader.load(io.user, folder, m.key).catch((err: unknown) => {
      throw readFailure('imap CATENATE', { user: io.user, folder, key: m.key }, err) ?? err;
    });
    // a part that does not exist is a bad URL here (FETCH answers it with "")
    if (item && !findPart(msg.tree, item.section.part)) return badUrl(url);
    const data = item ? sectionOctets(msg, item) : msg.buf;
    if (!data) return badUrl(url);
    // RFC 5092 §3 ";PARTIAL=o.n" as FETCH's <o.n>: past the end is no octets
    if (!u.partial) return data;
    const from = Math.min(u.partial.origin, data.length);
    return data.subarray(from, u.partial.length === undefined ? data.length : Math.min(data.length, from + u.partial.length));
  } catch (err) {
    // a message removed meanwhile is a bad URL; one that cannot be read, the store's failure
    return (err instanceof MessageUnreadable && err.result) || badUrl(url);
  }
}

/** The joined message, or the tagged NO that refuses the APPEND. */
export async function catenate(io: SessionIo, parts: readonly CatPart[]): Promise<Buffer | TaggedResult> {
  const out: Buffer[] = [];
  let n = 0;
  for (const p of parts) {
    const data = 'text' in p ? p.text : await urlOctets(io, p.url);
    if (!Buffer.isBuffer(data)) return data;
    n += data.length;
    if (n > io.ctx.appendLimit) return no('Message too large', 'TOOBIG');
    out.push(data);
  }
  return Buffer.concat(out);
}
