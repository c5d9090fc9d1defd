/**
 * @module message-text
 * The searchable text of a message: header fields with RFC 2047 encoded words decoded, and
 * text parts decoded from their transfer encoding and charset, lower-cased. Used by IMAP
 * SEARCH (BODY, TEXT) and by the PostgreSQL mailbox store's full-text vector.
 * Standards: RFC 2047 (encoded words), RFC 2045 §6 (base64, quoted-printable), RFC 2046
 *   (multipart, message/rfc822: the enclosed message's header and text count).
 * Security: works on a parsed tree whose depth and counts parseMimeTree bounds; an unknown
 *   charset falls back to latin1, never throws.
 * Limitations: charsets are those the runtime's TextDecoder knows; non-text parts are skipped.
 */
import { decodeTransfer } from '../mime/index.js';
import { parseMimeTree, type MimePart } from './mime-tree.js';

/** The decoder of a charset as text search reads it (us-ascii as UTF-8); undefined: read as latin1. */
export function charsetDecoder(charset: string): InstanceType<typeof TextDecoder> | undefined {
  try {
    return new TextDecoder(charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset || 'utf-8');
  } catch {
    return undefined;
  }
}

/** RFC 2047 encoded words decoded (unknown charsets left as written). */
export function decodeEncodedWords(s: string): string {
  return s
    .replace(/(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g, (whole, cs: string, enc: string, text: string) => {
      const charset = cs.replace(/\*.*$/, '');
      const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      try {
        return new TextDecoder(charset).decode(bytes);
      } catch {
        return whole;
      }
    });
}

/** What search reads under a part: an enclosed message's header block text, or a text part with its transfer encoding and charset. */
export type TextPiece = { readonly header: string } | { readonly part: MimePart; readonly cte: string; readonly charset: string };

/** The pieces of searchable text under `p`, in the message's order, appended to `out`. */
export function textPieces(p: MimePart, out: TextPiece[]): void {
  if (p.children) {
    for (const c of p.children) textPieces(c, out);
    return;
  }
  if (p.message) {
    out.push({ header: headerBlockText(p.message) });
    textPieces(p.message, out);
    return;
  }
  if (p.contentType.type !== 'text' && p.contentType.type !== 'message') return;
  const cte = p.fields.find((f) => f.name.toLowerCase() === 'content-transfer-encoding')?.value.trim().toLowerCase() ?? '7bit';
  out.push({ part: p, cte, charset: p.contentType.params.find(([k]) => k === 'charset')?.[1] ?? 'utf-8' });
}

/** The decoded, lower-cased text of every text part under `p` (enclosed messages' headers too), appended to `out`. */
export function bodyText(buf: Buffer, p: MimePart, out: string[]): void {
  const pieces: TextPiece[] = [];
  textPieces(p, pieces);
  for (const x of pieces) {
    if ('header' in x) {
      out.push(x.header);
      continue;
    }
    const body = buf.subarray(x.part.bodyStart, x.part.end);
    const raw = decodeTransfer(body, x.cte) ?? body;
    out.push((charsetDecoder(x.charset)?.decode(raw) ?? raw.toString('latin1')).toLowerCase());
  }
}

/** A part's header block as "Name: value" lines, encoded words decoded, lower-cased. */
export function headerBlockText(p: MimePart): string {
  return p.fields.map((f) => `${f.name}: ${decodeEncodedWords(f.value)}`).join('\n').toLowerCase();
}

/** The whole searchable text of a message (what SEARCH TEXT looks in). */
export function messageText(buf: Buffer): string {
  const tree = parseMimeTree(buf);
  const out = [headerBlockText(tree)];
  bodyText(buf, tree, out);
  return out.join('\n');
}
