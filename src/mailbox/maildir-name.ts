/**
 * @module maildir-name
 * Names and paths of the Maildir store: a user's address and a folder name checked before they
 * become path components, a delivery's uniqueKey and the host as fields of a file name, and a
 * file name read back (key, `:2,` flags, W= size, leading `<seconds>`).
 * Standards: the Maildir spec (cr.yp.to/proto/maildir.html: unique names, "/" and ":" in the
 *   host as \057 and \072, info ":2,FLAGS"); Maildir++ folders `.Name` and S=/W= (Courier, Dovecot).
 * Security: no "/", "\", NUL, control characters, "." or ".." components and no leading dot in
 *   any component taken from outside (MAIL_ERR_BAD_MAILBOX, 550 5.1.1).
 * Limitations: a uniqueKey over 100 encoded characters is replaced by a hash of it.
 */
import { createHash } from 'node:crypto';
import { MailError, replies } from '../core/index.js';

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function badMailbox(why: string): MailError {
  const e = new MailError(replies.noSuchUser(), 'MAIL_ERR_BAD_MAILBOX');
  e.message = `${e.message} (${why})`;
  return e;
}

/** One path component from untrusted text: refuses separators, NUL, control characters and dot tricks. */
function safeComponent(s: string, what: string): string {
  if (s.length === 0 || s.length > 255) throw badMailbox(`${what} is empty or too long`);
  if (/[/\\\x00-\x1f\x7f]/.test(s)) throw badMailbox(`${what} contains a forbidden character`);
  if (s.startsWith('.')) throw badMailbox(`${what} starts with a dot`);
  return s;
}

/** Splits and checks "local@domain"; the domain is lower-cased. */
export function mailboxParts(user: string): { local: string; domain: string } {
  const at = user.lastIndexOf('@');
  if (at <= 0 || at === user.length - 1) throw badMailbox('not local@domain');
  return { local: safeComponent(user.slice(0, at), 'local part'), domain: safeComponent(user.slice(at + 1).toLowerCase(), 'domain') };
}

/** The Maildir++ directory name of a folder: "" for INBOX, `.Name` otherwise. */
export function folderDir(folder: string | undefined): string {
  if (folder === undefined || folder === '' || folder.toUpperCase() === 'INBOX') return '';
  safeComponent(folder, 'folder');
  if (folder.endsWith('.') || folder.includes('..')) throw badMailbox('folder has an empty level');
  return `.${folder}`;
}

/** printable ASCII: each character its own octet in UTF-8 */
const asciiKey = /^[ -~]*$/;
const keyEscaped = /[^A-Za-z0-9_-]/g;

/** uniqueKey → a name field: [A-Za-z0-9_-] kept, anything else as =XX; long keys hashed. */
export function encodeUniqueKey(key: string): string {
  if (key.length === 0) throw new RangeError('uniqueKey must not be empty');
  let out = '';
  // a printable ASCII key (a queue's envelope id, every delivery: issue 19) is its own UTF-8,
  // one replace for it; other keys octet by octet
  if (asciiKey.test(key)) out = key.replace(keyEscaped, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  else {
    for (const b of Buffer.from(key, 'utf8')) {
      const c = String.fromCharCode(b);
      out += /[A-Za-z0-9_-]/.test(c) ? c : `=${b.toString(16).padStart(2, '0')}`;
    }
  }
  // an all-digit field would read as a name's leading "<seconds>": its first digit as =3X
  if (/^\d+$/.test(out)) out = `=${out.charCodeAt(0).toString(16)}${out.slice(1)}`;
  return out.length <= 100 ? out : `h${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** The Maildir spec's host part: "/" → \057, ":" → \072 (and "," → \054, used by S=/W=). */
export function encodeHost(h: string): string {
  return (h || 'localhost').replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');
}

/** Maildir spec: flags in ASCII order, each once. */
export function normFlags(flags: string): string {
  if (!/^[A-Za-z]*$/.test(flags)) throw new RangeError(`bad Maildir flags "${flags}"`);
  return [...new Set(flags)].sort().join('');
}

/** A message's name in cur/: its key and the info ":2," with its flags (normFlags). */
export function curName(key: string, flags: string): string {
  return `${key}:2,${normFlags(flags)}`;
}

export interface ParsedName {
  key: string;
  flags: string;
  size?: number;
  seconds?: number;
}

export function parseName(name: string): ParsedName {
  const colon = name.indexOf(':');
  const key = colon < 0 ? name : name.slice(0, colon);
  const info = colon < 0 ? '' : name.slice(colon + 1);
  const flags = info.startsWith('2,') ? info.slice(2) : '';
  const w = /,W=(\d+)/.exec(key);
  const fields = key.split(',')[0].split('.');
  // "<seconds>.<unique>.<host>" (the Maildir spec's form), or ours: "<key>.<host>", no time
  // (encodeUniqueKey never gives an all-digit key)
  const seconds = /^\d+$/.test(fields[0]) ? Number(fields[0]) : undefined;
  return { key, flags, size: w ? Number(w[1]) : undefined, seconds };
}
