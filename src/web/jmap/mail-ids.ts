/**
 * @module mail-ids
 * The ids and keywords of JMAP mail over the folder store (RFC 8621 §2, §4.1.1):
 * - a Mailbox is "m" + base64url of its folder name;
 * - an Email is "e" + the folder's tag (10 hex digits of a SHA-256 of account and name) + its
 *   UIDVALIDITY and UID in base 36 ("e3f09a1c2b7dmz0x1qZ2s"): the same in every request and
 *   after a restart, and what an expunge record (a UID) still names after the message is gone;
 *   a message moved elsewhere keeps the id of its first place (mail-view, core EmailAliases);
 *   its blob is "b" + the Email id's suffix (so it too stays across moves), a part of it "b…_1-2";
 * - keywords are the Maildir flag letters for the five system ones and the store's keywords
 *   (any IMAP keyword atom) for the rest, lower-cased as RFC 8621 §4.1.1 asks.
 * Standards: RFC 8620 §1.2 (ids: A-Z a-z 0-9 - _), RFC 8621 §4.1.1 (keywords $seen $flagged
 *   $answered $draft $forwarded ↔ Maildir S F R D P; other keywords case-insensitive).
 * Security: ids are parsed by strict patterns; they locate mail only inside the account's view.
 * Limitations: a message moved to another folder gets a new UID there, hence a new place id;
 *   the move is recorded as that place carrying the old id (core EmailAliases, mail-view).
 */
import { createHash } from 'node:crypto';

const systemKeywords: readonly [string, string][] = [
  ['$draft', 'D'],
  ['$flagged', 'F'],
  ['$forwarded', 'P'],
  ['$answered', 'R'],
  ['$seen', 'S'],
];

/** RFC 8621 §4.1.1: the keywords of a message's flag letters and store keywords. */
export function keywordsOf(flags: string, keywords: readonly string[] = []): Record<string, true> {
  const out: Record<string, true> = {};
  for (const [k, f] of systemKeywords) if (flags.includes(f)) out[k] = true;
  for (const k of keywords) out[k.toLowerCase()] = true;
  return out;
}

/** A keyword set split into Maildir letters and store keywords (lower case). */
export function splitKeywords(keywords: Record<string, unknown>): { letters: string; keywords: string[] } {
  let letters = '';
  const rest: string[] = [];
  for (const [k, v] of Object.entries(keywords)) {
    if (v !== true) continue;
    const kw = k.toLowerCase();
    const f = systemKeywords.find(([s]) => s === kw)?.[1];
    if (f !== undefined) letters += f;
    else if (!rest.includes(kw)) rest.push(kw);
  }
  return { letters: [...new Set(letters)].sort().join(''), keywords: rest };
}

/** RFC 8621 §4.1.1: a keyword is 1–255 of %x21–%x7E except ( ) { ] % * " \ (the IMAP atom rule). */
export function badKeyword(keywords: Record<string, unknown>): string | undefined {
  return Object.keys(keywords).find((k) => !/^[\x21-\x7e]{1,100}$/.test(k) || /[(){\]%*"\\]/.test(k));
}

/** An account's id: "a" + base64url of its address, lower-cased. */
export function accountIdOf(address: string): string {
  return `a${Buffer.from(address.toLowerCase(), 'utf8').toString('base64url')}`;
}

export function mailboxIdOf(folder: string): string {
  return `m${Buffer.from(folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder, 'utf8').toString('base64url')}`;
}

export function folderOfMailboxId(id: string): string | undefined {
  if (!/^m[A-Za-z0-9_-]+$/.test(id)) return undefined;
  return Buffer.from(id.slice(1), 'base64url').toString('utf8');
}

/**
 * A folder's tag in Email ids: of the account and the folder, so that no id of one account
 * names anything in another's (two INBOXes given the same UIDVALIDITY in the same second
 * would otherwise have the same ids).
 */
export function folderTag(user: string, folder: string): string {
  return createHash('sha256').update(`${user.toLowerCase()}\0${folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder}`).digest('hex').slice(0, 10);
}

/** The part of Email, blob and Thread ids that names one message: tag, UIDVALIDITY, UID. */
export function messageSuffix(tag: string, uidValidity: number, uid: number): string {
  return `${tag}${uidValidity.toString(36)}Z${uid.toString(36)}`;
}

/** A blob id of a stored message: its message suffix and the part asked for ("1.2"), if any. */
export function parseBlobId(blobId: string): { suffix: string; partId?: string } | undefined {
  const m = /^b([0-9a-f]{10}[0-9a-z]+Z[0-9a-z]+)(?:_([0-9-]+))?$/.exec(blobId);
  if (!m) return undefined;
  return m[2] === undefined ? { suffix: m[1] } : { suffix: m[1], partId: m[2].replace(/-/g, '.') };
}
