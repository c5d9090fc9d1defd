/**
 * @module mailbox-names
 * Mailbox names between the wire and the store: the store keeps modified UTF-7 names (as
 * Dovecot's Maildir++ layout, so other Maildir programs agree); a client that enabled
 * IMAP4rev2 or UTF8=ACCEPT sends and receives UTF-8, any other modified UTF-7. And the store's
 * refusals as tagged NOs with their response codes.
 * Standards: RFC 3501 §5.1.3 (modified UTF-7), RFC 9051 §5.1 (IMAP4rev2 names are UTF-8),
 *   RFC 6855 §3 (after ENABLE UTF8=ACCEPT names are UTF-8 and never modified UTF-7), RFC 5530
 *   (ALREADYEXISTS, NONEXISTENT, CANNOT, SERVERBUG).
 * Security: a name that is neither valid modified UTF-7 (rev1) nor valid UTF-8 (UTF-8 mode) is
 *   refused here; the store checks it again as a path component.
 *   RFC 9051 §5.1 (names SHOULD be NFC: names are normalized to NFC, and CREATE or RENAME with
 *   another form is told the name made in a LIST with OLDNAME, §6.3.4, §6.3.6, §7.3.1).
 * Limitations: a mailbox another program made with a non-NFC name cannot be reached.
 */
import { MailFolderError } from '../../core/index.js';
import { astring, decodeMutf7, encodeMutf7, encodeValueBuffer } from '../../protocol/imap/index.js';
import { no, type NameMode, type TaggedResult } from './session-types.js';

export type { NameMode };

const utf8Names = (m: NameMode): boolean => m.rev2 || m.utf8;

/**
 * The store's name of a mailbox name from the wire, normalized to Unicode NFC (RFC 9051 §5.1:
 * names SHOULD be NFC; a client that sends another form reaches the same mailbox); undefined
 * when it is not valid.
 */
export function folderName(mode: NameMode, raw: Buffer): string | undefined {
  return suppliedName(mode, raw)?.normalized;
}

/** The name as supplied (in the store's form) and as normalized; they differ for a de-normalized UTF-8 name. */
function suppliedName(mode: NameMode, raw: Buffer): { supplied: string; normalized: string } | undefined {
  if (utf8Names(mode)) {
    const s = raw.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(raw) || /[\x00-\x1f\x7f]/.test(s)) return undefined;
    if (s.toUpperCase() === 'INBOX') return { supplied: 'INBOX', normalized: 'INBOX' };
    return s.length === 0 ? undefined : { supplied: encodeMutf7(s), normalized: encodeMutf7(s.normalize('NFC')) };
  }
  const s = raw.toString('latin1');
  if (s.toUpperCase() === 'INBOX') return { supplied: 'INBOX', normalized: 'INBOX' };
  const decoded = s.length === 0 ? undefined : decodeMutf7(s);
  if (decoded === undefined) return undefined;
  return { supplied: s, normalized: decoded.normalize('NFC') === decoded ? s : encodeMutf7(decoded.normalize('NFC')) };
}

/**
 * RFC 9051 §6.3.4 (CREATE) and §6.3.6 (RENAME): when the name given was not in normal form,
 * the untagged LIST of the name made, with the name given as OLDNAME; undefined otherwise.
 */
export function oldNameList(mode: NameMode, raw: Buffer): string | undefined {
  const n = suppliedName(mode, raw);
  if (!n || n.supplied === n.normalized) return undefined;
  const strip = (x: string): string => (x.endsWith('.') ? x.slice(0, -1) : x);
  return `LIST () "." ${wireName(mode, strip(n.normalized))} ("OLDNAME" (${wireName(mode, strip(n.supplied))}))`;
}

/** A LIST reference or pattern in the store's terms ("%" and "*" are ASCII in both forms). */
export function patternName(mode: NameMode, raw: Buffer): string {
  if (!utf8Names(mode)) return raw.toString('latin1');
  return encodeMutf7(raw.toString('utf8'));
}

/** A store name as the client should see it: an astring, UTF-8 in UTF-8 mode. */
export function wireName(mode: NameMode, name: string): string {
  if (!utf8Names(mode)) return encodeValueBuffer(astring(name)).toString('latin1');
  const shown = decodeMutf7(name) ?? name;
  return encodeValueBuffer(astring(shown), true).toString('utf8');
}

/** A store error as a tagged NO with its RFC 5530 code. */
export function folderError(err: unknown): TaggedResult {
  if (err instanceof MailFolderError) {
    switch (err.kind) {
      case 'exists':
        return no('Mailbox already exists', 'ALREADYEXISTS');
      case 'nonexistent':
        return no('Mailbox does not exist', 'NONEXISTENT');
      case 'bad-name':
        return no(`Invalid mailbox name: ${err.message}`, 'CANNOT');
      case 'cannot':
        return no(err.message, 'CANNOT');
    }
  }
  return no('Internal error, try again later', 'SERVERBUG');
}
