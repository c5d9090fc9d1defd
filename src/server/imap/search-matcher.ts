/**
 * @module search-matcher
 * Evaluates SEARCH keys against the messages of the selected mailbox.
 * Standards: RFC 9051 §6.4.4 (keys; string matches are case-insensitive substring matches;
 *   dates compare the day only; HEADER with an empty string matches every message with the
 *   field), RFC 2047 (encoded words in header fields are decoded before matching), RFC 2045
 *   (BODY/TEXT decode base64 and quoted-printable text parts).
 * Security: bounded by the mailbox's size; a message removed meanwhile (ENOENT) does not match;
 *   one that cannot be read for another reason fails the whole command (the target throws:
 *   search-target, read-failure), never a silent non-match.
 * Limitations: BODY and TEXT read every message they test (a store with a full-text index
 *   narrows the messages tested first: message-commands' textNarrowing), a big one as a stream
 *   (search-text-stream); the header keys read the header block only, or the fields the fetch
 *   cache keeps when the key is on one of them (SearchTarget, search-target); charsets
 *   are those the runtime's TextDecoder knows.
 */
import type { MimePart, SearchKey, SequenceSet } from '../../protocol/imap/index.js';
import type { HeaderField } from '../../protocol/mime/index.js';
import type { ViewMessage } from './selected-mailbox.js';
import { addressTexts, bodyText, decodeEncodedWords, headerBlockText } from '../../protocol/imap/index.js';

const addressFields = new Set(['FROM', 'TO', 'CC', 'BCC']);

export interface SearchTarget {
  readonly seq: number;
  readonly m: ViewMessage;
  readonly maxSeq: number;
  readonly maxUid: number;
  /** whether the message is in a set read as UIDs or sequence numbers ("$" resolved) */
  readonly inSet: (set: SequenceSet, uid: boolean) => boolean;
  /**
   * the message's header fields, undefined when it was removed meanwhile (any other failure to
   * read it throws): its header block's, or only some of them, but then every occurrence of
   * `field` (upper case) among them
   */
  readonly headers: (field: string) => Promise<readonly HeaderField[] | undefined>;
  /** whether `needle` (lower-cased) is in the message's text (BODY; with its header: TEXT); false when it was removed meanwhile (any other failure throws) */
  readonly textHas: (needle: string, withHeader: boolean) => Promise<boolean>;
}

/** Whether `needle` (lower-cased) is in the text of a message held whole (what SEARCH BODY and TEXT look in). */
export function wholeTextHas(msg: { readonly buf: Buffer; readonly tree: MimePart }, needle: string, withHeader: boolean): boolean {
  const texts: string[] = [];
  if (withHeader) texts.push(headerBlockText(msg.tree));
  bodyText(msg.buf, msg.tree, texts);
  return texts.some((s) => s.includes(needle));
}

function headerText(fields: readonly HeaderField[], field: string): string[] {
  return fields.filter((f) => f.name.toUpperCase() === field).map((f) => decodeEncodedWords(f.value).toLowerCase());
}

function dayOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

function sentDay(fields: readonly HeaderField[]): number | undefined {
  const date = fields.find((f) => f.name.toLowerCase() === 'date')?.value;
  if (date === undefined) return undefined;
  const t = Date.parse(date.replace(/\([^)]*\)/g, '').trim());
  if (Number.isNaN(t)) return undefined;
  // RFC 9051 §6.4.4: the date of the Date: field, "disregarding time and timezone"
  const m = /([+-])(\d\d)(\d\d)\s*$/.exec(date.replace(/\([^)]*\)/g, '').trim());
  const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : 0;
  return dayOf(t + offset);
}

export async function matches(k: SearchKey, t: SearchTarget): Promise<boolean> {
  const f = t.m.flags;
  switch (k.op) {
    case 'all':
      return true;
    case 'answered':
      return f.includes('R');
    case 'deleted':
      return f.includes('T');
    case 'draft':
      return f.includes('D');
    case 'flagged':
      return f.includes('F');
    case 'seen':
      return f.includes('S');
    case 'unanswered':
      return !f.includes('R');
    case 'undeleted':
      return !f.includes('T');
    case 'undraft':
      return !f.includes('D');
    case 'unflagged':
      return !f.includes('F');
    case 'unseen':
      return !f.includes('S');
    case 'recent':
      return t.m.recent === true;
    case 'new':
      return t.m.recent === true && !f.includes('S');
    case 'old':
      return !t.m.recent;
    case 'keyword':
    case 'unkeyword': {
      const want = k.flag.toUpperCase();
      return t.m.keywords.some((x) => x.toUpperCase() === want) === (k.op === 'keyword');
    }
    case 'modseq':
      // RFC 7162 §3.1.5: messages whose MODSEQ is at least the value
      return t.m.modseq >= k.modseq;
    case 'larger':
      return t.m.size > k.size;
    case 'smaller':
      return t.m.size < k.size;
    case 'before':
      return dayOf(t.m.receivedAt) < k.date;
    case 'on':
      return dayOf(t.m.receivedAt) === k.date;
    case 'since':
      return dayOf(t.m.receivedAt) >= k.date;
    case 'uid':
      return t.inSet(k.set, true);
    case 'seq':
      return t.inSet(k.set, false);
    case 'not':
      return !(await matches(k.key, t));
    case 'or':
      return (await matches(k.a, t)) || matches(k.b, t);
    case 'and':
      for (const x of k.keys) if (!(await matches(x, t))) return false;
      return true;
    default:
      break;
  }
  if (k.op === 'body' || k.op === 'text') return t.textHas(k.value.toLowerCase(), k.op === 'text');
  const fields = await t.headers(k.op === 'header' ? k.field : 'DATE');
  if (!fields) return false;
  switch (k.op) {
    case 'header': {
      const values = headerText(fields, k.field);
      // RFC 9051 §6.4.4: FROM, TO, CC and BCC look in the envelope's addresses too (an
      // address written with comments or routes is found as mailbox@host)
      if (addressFields.has(k.field)) for (const f of fields) if (f.name.toUpperCase() === k.field) values.push(...addressTexts(f.value).map((a) => decodeEncodedWords(a).toLowerCase()));
      const needle = k.value.toLowerCase();
      return values.some((v) => v.includes(needle));
    }
    case 'sentbefore':
    case 'senton':
    case 'sentsince': {
      const d = sentDay(fields);
      if (d === undefined) return false;
      return k.op === 'sentbefore' ? d < k.date : k.op === 'senton' ? d === k.date : d >= k.date;
    }
    default:
      return false;
  }
}
