/**
 * @module fetch-items
 * FETCH data items: the macros ALL/FAST/FULL, FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE,
 * BODY, BODYSTRUCTURE, RFC822, RFC822.HEADER, RFC822.TEXT, BODY[section]<o.n>,
 * BODY.PEEK[section]<o.n>, BINARY[part]<o.n>, BINARY.PEEK, BINARY.SIZE, MODSEQ.
 * Standards: RFC 9051 §6.4.5 (items, sections: part path, HEADER, HEADER.FIELDS(.NOT), TEXT,
 *   MIME; partial "<origin.octets>"), RFC 3501 §6.4.5 (RFC822* items), RFC 3516 §4.2 (BINARY),
 *   RFC 7162 §3.1.4.2 (MODSEQ).
 * Security: at most 100 items and 100 header field names; part numbers are bounded.
 * Limitations: none for the syntax (what the session answers is its own).
 */
import { ImapReader, ImapSyntaxError } from './imap-reader.js';

export interface BodySection {
  /** part path, e.g. [1, 2]; empty: the whole message */
  readonly part: readonly number[];
  readonly text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** upper-cased names for HEADER.FIELDS(.NOT) */
  readonly fields?: readonly string[];
}

export type FetchItem =
  | { readonly kind: 'FLAGS' | 'UID' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' | 'MODSEQ' }
  | {
      readonly kind: 'BODY[]' | 'BINARY[]' | 'BINARY.SIZE';
      readonly peek: boolean;
      readonly section: BodySection;
      readonly partial?: { readonly origin: number; readonly length: number };
      /** the section as the client wrote it, echoed in the response ("1.HEADER.FIELDS (FROM)") */
      readonly label: string;
    };

const simple = new Set(['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'MODSEQ']);

/** RFC 9051 §6.4.5 macros */
const macros: Record<string, readonly string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** Reads the FETCH argument: a macro, one item, or a parenthesized list. */
export function readFetchItems(r: ImapReader): FetchItem[] {
  if (r.peek() !== 0x28) {
    const save = r.pos;
    const word = r.astringChars().toUpperCase();
    if (macros[word]) return macros[word].map((k) => ({ kind: k }) as FetchItem);
    r.pos = save;
    return [readItem(r)];
  }
  r.expect('(');
  const out: FetchItem[] = [];
  while (r.peek() !== 0x29) {
    if (out.length > 0) r.sp();
    out.push(readItem(r));
    if (out.length > 100) r.fail('fewer fetch items');
  }
  r.expect(')');
  if (out.length === 0) r.fail('a fetch item');
  return out;
}

function readName(r: ImapReader): string {
  const start = r.pos;
  while (!r.done) {
    const c = r.peek();
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e)) break;
    r.pos++;
  }
  if (r.pos === start) r.fail('fetch item');
  return r.buf.toString('latin1', start, r.pos).toUpperCase();
}

function readItem(r: ImapReader): FetchItem {
  const name = readName(r);
  if (r.peek() !== 0x5b) {
    if (simple.has(name)) return { kind: name } as FetchItem;
    r.fail(`known fetch item instead of ${name}`);
  }
  const kinds: Record<string, { kind: 'BODY[]' | 'BINARY[]' | 'BINARY.SIZE'; peek: boolean }> = {
    BODY: { kind: 'BODY[]', peek: false },
    'BODY.PEEK': { kind: 'BODY[]', peek: true },
    BINARY: { kind: 'BINARY[]', peek: false },
    'BINARY.PEEK': { kind: 'BINARY[]', peek: true },
    'BINARY.SIZE': { kind: 'BINARY.SIZE', peek: true },
  };
  const k = kinds[name];
  if (!k) r.fail(`section-taking item instead of ${name}`);
  r.expect('[');
  const section = k.kind === 'BODY[]' ? readSection(r) : { part: readPart(r, false) };
  const label = sectionLabel(section);
  r.expect(']');
  let partial: { origin: number; length: number } | undefined;
  if (r.peek() === 0x3c && k.kind !== 'BINARY.SIZE') {
    r.pos++;
    const origin = r.number();
    r.expect('.');
    const length = r.nzNumber();
    r.expect('>');
    partial = { origin, length };
  }
  return { kind: k.kind, peek: k.peek, section, label, ...(partial && { partial }) };
}

/** The section spec echoed in the response (RFC 9051 §7.5.2), upper-cased like Dovecot's. */
export function sectionLabel(s: BodySection): string {
  const parts = s.part.join('.');
  if (!s.text) return parts;
  const text = s.fields ? `${s.text} (${s.fields.join(' ')})` : s.text;
  return parts === '' ? text : `${parts}.${text}`;
}

function readPart(r: ImapReader, allowText: boolean): number[] {
  const part: number[] = [];
  while (r.peek() >= 0x30 && r.peek() <= 0x39) {
    const n = r.nzNumber();
    part.push(n);
    if (part.length > 50) r.fail('a shorter part path');
    if (r.peek() !== 0x2e) break;
    const next = r.buf[r.pos + 1];
    if (next >= 0x30 && next <= 0x39) r.pos++;
    else if (allowText) {
      r.pos++;
      break;
    } else r.fail('part number');
  }
  return part;
}

function readSection(r: ImapReader): BodySection {
  const part = readPart(r, true);
  if (r.peek() === 0x5d) {
    if (part.length > 0 && r.buf[r.pos - 1] === 0x2e) r.fail('section text after "."');
    return { part };
  }
  const word = readName(r);
  if (word === 'HEADER' || word === 'TEXT') return { part, text: word };
  if (word === 'MIME') {
    if (part.length === 0) r.fail('a part number before MIME');
    return { part, text: 'MIME' };
  }
  if (word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT') {
    r.sp();
    r.expect('(');
    const fields: string[] = [];
    while (r.peek() !== 0x29) {
      if (fields.length > 0) r.sp();
      const f = r.astring().toString('latin1').toUpperCase();
      // RFC 5322 §3.6.8: a field name is printable ASCII without ":"; anything else never matches
      if (!/^[\x21-\x39\x3b-\x7e]+$/.test(f)) r.fail('header field name');
      fields.push(f);
      if (fields.length > 100) r.fail('fewer header fields');
    }
    r.expect(')');
    if (fields.length === 0) throw new ImapSyntaxError('at least one header field name');
    return { part, text: word, fields };
  }
  return r.fail('section text');
}
