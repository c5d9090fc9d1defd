/**
 * @module command-args
 * The arguments of the IMAP commands with more than a few of them, read for parseImapCommand:
 * sequence sets, APPEND's messages (MULTIAPPEND, UTF8, CATENATE parts), QUOTA, LIST's return
 * options, STATUS items, SELECT/EXAMINE's CONDSTORE and QRESYNC parameters.
 * Standards: RFC 9051 §6.3.12 and §9 (APPEND), RFC 3502 §6 (MULTIAPPEND), RFC 6855 §4
 *   (UTF8 append-data), RFC 3516 §4.4 (literal8), RFC 4469 §5 (CATENATE), RFC 9208 §4
 *   (QUOTA), RFC 5258 §3.2 and RFC 5819 (LIST RETURN), RFC 7162 §7 (SELECT parameters).
 * Security: every count is bounded (messages, CATENATE parts, resources, options).
 * Limitations: none.
 */
import { parseDateTime } from './date-time.js';
import type { AppendMessage, CatPart, ImapCommand, ListReturn, QresyncParams, StatusItem } from './imap-command-types.js';
import type { ImapReader } from './imap-reader.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';

const statusItems = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT', 'DELETED-STORAGE']);

export function seqSet(r: ImapReader): SequenceSet {
  const set = parseSequenceSet(r.seqSetText());
  if (!set) r.fail('sequence set');
  return set;
}

export function atomList(r: ImapReader): string[] {
  r.expect('(');
  const out: string[] = [];
  while (r.peek() !== 0x29) {
    if (out.length > 0) r.sp();
    out.push(r.atom().toUpperCase());
    if (out.length > 50) r.fail('fewer options');
  }
  r.expect(')');
  return out;
}

/** The bound on MULTIAPPEND's messages in one command (their octets are bounded by the session). */
export const maxAppendMessages = 1000;

/** [flag-list SP] [date-time SP] (literal / literal8 / "UTF8" SP "(" literal8 ")"). */
export function appendMessage(r: ImapReader): AppendMessage {
  let flags: string[] = [];
  let date: number | undefined;
  if (r.peek() === 0x28) {
    flags = r.flagList();
    r.sp();
  }
  if (r.peek() === 0x22) {
    date = parseDateTime(r.string().toString('latin1'));
    if (date === undefined) r.fail('date-time');
    r.sp();
  }
  if (r.peekWord('CATENATE')) {
    r.pos += 8;
    r.sp();
    return { flags, ...(date !== undefined && { date }), message: Buffer.alloc(0), catenate: catParts(r) };
  }
  if (r.peekWord('UTF8')) {
    // RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")" (a message in UTF-8, not binary content)
    r.pos += 4;
    r.sp();
    r.expect('(');
    const message = r.literal(true);
    r.expect(')');
    return { flags, ...(date !== undefined && { date }), message, utf8: true };
  }
  // RFC 3516 §4.4: binary content ("~{n}") is kept exactly or refused
  const binary = r.peek() === 0x7e;
  return { flags, ...(date !== undefined && { date }), message: r.literal(true), ...(binary && { binary }) };
}

/** RFC 4469 §5: "(" cat-part *(SP cat-part) ")", cat-part = "TEXT" SP literal / "URL" SP astring (RFC 3516 §4.4: literal8 too). */
function catParts(r: ImapReader): CatPart[] {
  r.expect('(');
  const parts: CatPart[] = [];
  while (r.peek() !== 0x29) {
    if (parts.length > 0) r.sp();
    const kind = r.atom().toUpperCase();
    r.sp();
    if (kind === 'TEXT') parts.push(r.peek() === 0x7e ? { text: r.literal(true), binary: true } : { text: r.literal(true) });
    else if (kind === 'URL') parts.push({ url: r.astring().toString('utf8') });
    else r.fail('TEXT or URL');
    if (parts.length > maxCatParts) r.fail(`at most ${maxCatParts} parts`);
  }
  r.expect(')');
  if (parts.length === 0) r.fail('a part');
  return parts;
}

const maxCatParts = 100;

/** RFC 9208 §4: GETQUOTA root, GETQUOTAROOT mailbox, SETQUOTA root "(" *(resource SP number) ")". */
export function quotaArgs(r: ImapReader, name: 'GETQUOTA' | 'GETQUOTAROOT' | 'SETQUOTA'): ImapCommand {
  r.sp();
  const arg = r.astring();
  if (name === 'GETQUOTAROOT') return { name, mailbox: arg };
  if (name === 'GETQUOTA') return { name, root: arg };
  r.sp();
  r.expect('(');
  const limits: [string, number][] = [];
  while (r.peek() !== 0x29) {
    if (limits.length > 0) r.sp();
    const resource = r.atom().toUpperCase();
    r.sp();
    limits.push([resource, r.number()]);
    if (limits.length > 20) r.fail('fewer resources');
  }
  r.expect(')');
  return { name, root: arg, limits };
}

/** RFC 5258 §3.2 return options, with RFC 5819's STATUS (items). */
export function listReturns(r: ImapReader): ListReturn {
  r.expect('(');
  const out = { subscribed: false, children: false, specialUse: false } as { -readonly [K in keyof ListReturn]: ListReturn[K] };
  for (let first = true; r.peek() !== 0x29; first = false) {
    if (!first) r.sp();
    const o = r.atom().toUpperCase();
    if (o === 'SUBSCRIBED') out.subscribed = true;
    else if (o === 'CHILDREN') out.children = true;
    else if (o === 'SPECIAL-USE') out.specialUse = true;
    else if (o === 'STATUS' && !out.status) {
      r.sp();
      out.status = statusList(r);
    } else r.fail('SUBSCRIBED, CHILDREN, SPECIAL-USE or STATUS');
  }
  r.expect(')');
  return out;
}

export function statusList(r: ImapReader): StatusItem[] {
  const items = atomList(r);
  if (items.length === 0 || items.some((i) => !statusItems.has(i))) r.fail('status items');
  return items as StatusItem[];
}

/** SELECT/EXAMINE mailbox [SP "(" select-param *(SP select-param) ")"] (RFC 7162 §7). */
export function selectArgs(r: ImapReader, name: 'SELECT' | 'EXAMINE'): ImapCommand {
  r.sp();
  const mailbox = r.astring();
  if (!r.maybeSp()) return { name, mailbox };
  r.expect('(');
  let condstore = false;
  let qresync: QresyncParams | undefined;
  for (let first = true; r.peek() !== 0x29; first = false) {
    if (!first) r.sp();
    const p = r.atom().toUpperCase();
    if (p === 'CONDSTORE' && !condstore) condstore = true;
    else if (p === 'QRESYNC' && !qresync) {
      r.sp();
      r.expect('(');
      const uidValidity = r.nzNumber();
      r.sp();
      const modseq = r.modseq();
      let knownUids: SequenceSet | undefined;
      let seqMatch: QresyncParams['seqMatch'];
      if (r.maybeSp() && r.peek() !== 0x28) {
        knownUids = seqSet(r);
        r.maybeSp();
      }
      if (r.peek() === 0x28) {
        r.pos++;
        const seqs = seqSet(r);
        r.sp();
        seqMatch = { seqs, uids: seqSet(r) };
        r.expect(')');
      }
      r.expect(')');
      qresync = { uidValidity, modseq, ...(knownUids && { knownUids }), ...(seqMatch && { seqMatch }) };
    } else r.fail('CONDSTORE or QRESYNC');
  }
  r.expect(')');
  return { name, mailbox, ...(condstore && { condstore }), ...(qresync && { qresync }) };
}
