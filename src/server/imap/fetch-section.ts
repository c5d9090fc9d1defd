/**
 * @module fetch-section
 * The octets of a BODY[section] or BINARY[section] of one message: from the message in memory,
 * or, for a big message whose tree was made from a stream (mime-tree parseMimeTreeStream), as a
 * range of its file (decoded on the way for BINARY of an encoded part) that fetch-stream writes,
 * with only the header blocks in memory.
 * Standards: RFC 9051 §6.4.5 (sections: part paths, HEADER, HEADER.FIELDS(.NOT), MIME, TEXT;
 *   HEADER.FIELDS gives the matching fields and the empty line; MIME gives the part's own
 *   header; a section that does not exist is empty), RFC 3516 §4.2 (BINARY: the part decoded
 *   from its Content-Transfer-Encoding; a multipart or message part as it is).
 * Security: offsets come from the parser, never from header values.
 * Limitations: BINARY decodes base64 and quoted-printable only (other encodings: UnknownCte).
 */
import type { FetchItem, MimePart } from '../../protocol/imap/index.js';
import { findPart } from '../../protocol/imap/index.js';
import { decodeTransfer, identityEncodings, transferDecoder } from '../../protocol/mime/index.js';

/** Octets [start, end) of the message's file; decoded with `cte` (base64, quoted-printable) when given. */
export interface FileSection {
  readonly start: number;
  readonly end: number;
  readonly cte?: string;
}

export type SectionData = Buffer | FileSection;

/** A message as its sections are read: its octets in memory (`buf`), or its streamed tree alone (header blocks held). */
export interface SectionSource {
  readonly tree: MimePart;
  readonly buf?: Buffer;
  readonly size: number;
}

/** A BINARY of a part whose encoding is not known (RFC 3516 §4.3: UNKNOWN-CTE). */
export class UnknownCte extends Error {}

export type SectionItem = Extract<FetchItem, { kind: 'BODY[]' | 'BINARY[]' | 'BINARY.SIZE' }>;

function body(src: SectionSource, start: number, end: number): SectionData {
  return src.buf ? src.buf.subarray(start, end) : { start, end };
}

/** A part's header block (with its empty line). */
export function headerOf(src: SectionSource, p: MimePart): Buffer {
  return src.buf ? src.buf.subarray(p.headerStart, p.bodyStart) : p.header!;
}

function decoded(src: SectionSource, p: MimePart): SectionData {
  const cte = p.fields.find((f) => f.name.toLowerCase() === 'content-transfer-encoding')?.value.trim().toLowerCase() ?? '7bit';
  if (src.buf) {
    const data = decodeTransfer(src.buf.subarray(p.bodyStart, p.end), cte);
    if (data === undefined) throw new UnknownCte();
    return data;
  }
  if (identityEncodings.has(cte)) return { start: p.bodyStart, end: p.end };
  if (!transferDecoder(cte)) throw new UnknownCte();
  return { start: p.bodyStart, end: p.end, cte };
}

/** The header lines whose names are (or with `not`, are not) in `names`, and the empty line. */
function headerFields(header: Buffer, names: readonly string[], not: boolean): Buffer {
  const want = new Set(names);
  const out: Buffer[] = [];
  let i = 0;
  let keep = false;
  while (i < header.length) {
    let lf = header.indexOf(0x0a, i);
    if (lf < 0) lf = header.length - 1;
    const line = header.subarray(i, lf + 1);
    const first = line[0];
    if (first === 0x20 || first === 0x09) {
      if (keep) out.push(line);
    } else if (line.length <= 2 && (first === 0x0d || first === 0x0a)) {
      keep = false;
    } else {
      const colon = line.indexOf(0x3a);
      const name = colon > 0 ? line.toString('latin1', 0, colon).trim().toUpperCase() : '';
      keep = name !== '' && want.has(name) !== not;
      if (keep) out.push(line);
    }
    i = lf + 1;
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

/** The octets of a BODY[section] (before the partial is applied); null when it does not exist. */
export function sectionData(src: SectionSource, item: SectionItem): SectionData | null {
  const s = item.section;
  // the whole message: no part to find (a streamed message may come without its tree)
  if (s.part.length === 0 && !s.text) return body(src, 0, src.size);
  const p = findPart(src.tree, s.part);
  // a part that does not exist (a multipart without parts): RFC 9051 does not say; "" as Dovecot
  if (!p) return item.kind === 'BODY[]' ? Buffer.alloc(0) : null;
  if (item.kind !== 'BODY[]') {
    // RFC 3516 §4.2: BINARY[] is the whole message; a multipart or message/rfc822 part has an
    // identity encoding (RFC 2045 §6.4), so its octets come as they are
    if (s.part.length === 0) return body(src, 0, src.size);
    return decoded(src, p);
  }
  if (s.part.length === 0) return textOf(src, src.tree, s.text!, s.fields);
  if (!s.text) return body(src, p.bodyStart, p.end);
  if (s.text === 'MIME') return headerOf(src, p);
  // HEADER, TEXT, HEADER.FIELDS of a part: of the message it holds (RFC 9051 §6.4.5: only a
  // message/rfc822 part has them); of another part, part 1 of a one-part message included, ""
  // as Dovecot answers
  if (!p.message) return Buffer.alloc(0);
  return textOf(src, p.message, s.text, s.fields);
}

function textOf(src: SectionSource, m: MimePart, text: string, fields?: readonly string[]): SectionData {
  if (text === 'TEXT') return body(src, m.bodyStart, m.end);
  const header = headerOf(src, m);
  if (text === 'HEADER') return header;
  return headerFields(header, fields ?? [], text === 'HEADER.FIELDS.NOT');
}

/** The octets of a BODY[section] of a message in memory (CATENATE's URLs). */
export function sectionOctets(msg: { readonly buf: Buffer; readonly tree: MimePart }, item: SectionItem): Buffer | null {
  return sectionData({ ...msg, size: msg.buf.length }, item) as Buffer | null;
}

/** The key of a decoded section in StreamedMessage's sizes. */
export const decodedKey = (s: FileSection): string => `${s.start}:${s.end}:${s.cte}`;

/** The file sections a FETCH's items decode (BINARY of an encoded part): their sizes are needed before their literals. */
export function decodedSections(src: SectionSource, items: readonly FetchItem[]): FileSection[] {
  const out: FileSection[] = [];
  for (const i of items) {
    if (i.kind !== 'BINARY[]' && i.kind !== 'BINARY.SIZE') continue;
    const d = sectionData(src, i);
    if (d && !Buffer.isBuffer(d) && d.cte !== undefined) out.push(d);
  }
  return out;
}
