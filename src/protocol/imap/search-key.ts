/**
 * @module search-key
 * SEARCH criteria as a tree: every RFC 9051 §6.4.4 key (and RFC 3501's NEW, OLD, RECENT,
 * UNKEYWORD forms), with OR, NOT and parenthesized groups; the optional CHARSET and RETURN
 * options of the command are the caller's.
 * Standards: RFC 9051 §6.4.4 (keys; dates "d-Mon-yyyy" compared without time or zone),
 *   RFC 3501 §6.4.4 (NEW, OLD, RECENT, UNSEEN...), RFC 7162 §3.1.5 (MODSEQ with an optional
 *   entry name and type, which only narrow what a server with per-flag MODSEQs would match).
 * Security: nesting depth and the number of keys are bounded (a hostile "NOT NOT NOT..." or
 *   "((((" is refused, not recursed into without end).
 * Limitations: none for the syntax.
 */
import { ImapReader } from './imap-reader.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';

export type SearchKey =
  | { readonly op: 'all' | 'answered' | 'deleted' | 'draft' | 'flagged' | 'seen' | 'recent' | 'new' | 'old' }
  | { readonly op: 'unanswered' | 'undeleted' | 'undraft' | 'unflagged' | 'unseen' }
  | { readonly op: 'keyword' | 'unkeyword'; readonly flag: string }
  | { readonly op: 'header'; readonly field: string; readonly value: string }
  | { readonly op: 'body' | 'text'; readonly value: string }
  | { readonly op: 'before' | 'on' | 'since' | 'sentbefore' | 'senton' | 'sentsince'; readonly date: number }
  | { readonly op: 'larger' | 'smaller'; readonly size: number }
  | { readonly op: 'uid' | 'seq'; readonly set: SequenceSet }
  | { readonly op: 'modseq'; readonly modseq: number }
  | { readonly op: 'not'; readonly key: SearchKey }
  | { readonly op: 'or'; readonly a: SearchKey; readonly b: SearchKey }
  | { readonly op: 'and'; readonly keys: readonly SearchKey[] };

const maxDepth = 50;
const maxKeys = 1000;

const months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** RFC 9051 §9 date: "d-Mon-yyyy", bare or quoted; the UTC midnight of that day (ms). */
export function readDate(r: ImapReader): number {
  const quoted = r.peek() === 0x22;
  const text = quoted ? r.string().toString('latin1') : r.atom();
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  const mon = m ? months.indexOf(m[2].toUpperCase()) : -1;
  if (!m || mon < 0 || Number(m[1]) < 1 || Number(m[1]) > 31) return r.fail('date d-Mon-yyyy');
  return Date.UTC(Number(m[3]), mon, Number(m[1]));
}

const header: Record<string, string> = { BCC: 'BCC', CC: 'CC', FROM: 'FROM', SUBJECT: 'SUBJECT', TO: 'TO' };
const flagOps = new Set(['ALL', 'ANSWERED', 'DELETED', 'DRAFT', 'FLAGGED', 'SEEN', 'RECENT', 'NEW', 'OLD', 'UNANSWERED', 'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNSEEN']);
const dateOps = new Set(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE']);

/** Reads the search keys up to the end of the command: several keys mean AND. */
export function readSearchKeys(r: ImapReader): SearchKey {
  const count = { n: 0 };
  const keys: SearchKey[] = [readKey(r, 0, count)];
  while (r.maybeSp()) keys.push(readKey(r, 0, count));
  r.end();
  return keys.length === 1 ? keys[0] : { op: 'and', keys };
}

function text(r: ImapReader): string {
  return r.astring().toString('utf8');
}

function readKey(r: ImapReader, depth: number, count: { n: number }): SearchKey {
  if (depth > maxDepth || ++count.n > maxKeys) r.fail('a simpler search');
  const c = r.peek();
  if (c === 0x28) {
    r.pos++;
    const keys: SearchKey[] = [readKey(r, depth + 1, count)];
    while (r.maybeSp()) keys.push(readKey(r, depth + 1, count));
    r.expect(')');
    return keys.length === 1 ? keys[0] : { op: 'and', keys };
  }
  if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x24) {
    const set = parseSequenceSet(r.seqSetText());
    if (!set) r.fail('sequence set');
    return { op: 'seq', set };
  }
  const word = r.atom().toUpperCase();
  if (flagOps.has(word)) return { op: word.toLowerCase() } as SearchKey;
  if (header[word]) {
    r.sp();
    return { op: 'header', field: header[word], value: text(r) };
  }
  if (dateOps.has(word)) {
    r.sp();
    return { op: word.toLowerCase(), date: readDate(r) } as SearchKey;
  }
  switch (word) {
    case 'BODY':
    case 'TEXT':
      r.sp();
      return { op: word === 'BODY' ? 'body' : 'text', value: text(r) };
    case 'HEADER': {
      r.sp();
      const field = r.astring().toString('latin1').toUpperCase();
      r.sp();
      return { op: 'header', field, value: text(r) };
    }
    case 'KEYWORD':
    case 'UNKEYWORD':
      r.sp();
      return { op: word === 'KEYWORD' ? 'keyword' : 'unkeyword', flag: r.flag() };
    case 'LARGER':
    case 'SMALLER':
      r.sp();
      return { op: word === 'LARGER' ? 'larger' : 'smaller', size: r.number() };
    case 'UID': {
      r.sp();
      const set = parseSequenceSet(r.seqSetText());
      if (!set) r.fail('sequence set');
      return { op: 'uid', set };
    }
    case 'MODSEQ': {
      r.sp();
      // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
      if (r.peek() === 0x22) {
        const entry = r.string().toString('latin1');
        if (!/^\/flags\/\\?[^\s"\\]+$/i.test(entry)) r.fail('"/flags/<flag>" entry name');
        r.sp();
        if (!['PRIV', 'SHARED', 'ALL'].includes(r.atom().toUpperCase())) r.fail('priv, shared or all');
        r.sp();
      }
      return { op: 'modseq', modseq: r.modseq() };
    }
    case 'NOT':
      r.sp();
      return { op: 'not', key: readKey(r, depth + 1, count) };
    case 'OR': {
      r.sp();
      const a = readKey(r, depth + 1, count);
      r.sp();
      return { op: 'or', a, b: readKey(r, depth + 1, count) };
    }
    default:
      return r.fail(`search key instead of ${word}`);
  }
}
