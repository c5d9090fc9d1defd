/**
 * @module search-text-stream
 * SEARCH BODY and TEXT in a big message read as a stream: its tree (header blocks and offsets,
 * message-reader `tree`) gives the text parts, and each is read from the file through its
 * transfer decoder and charset decoder, lower-cased and matched a piece at a time, so a session
 * holds a chunk of it, not the message.
 * Standards: RFC 9051 §6.4.4 (BODY, TEXT: case-insensitive substring matches), RFC 2045 §6
 *   (base64, quoted-printable), RFC 2046 (the enclosed message's header and text count): the
 *   same text as message-text's bodyText, matched piece by piece as it matches each whole.
 * Security: what is held is bounded by a chunk of the file plus `maxRun` characters of text
 *   without white space, and the tree's header blocks (mime-tree bounds its parts).
 * Limitations: text is lower-cased in pieces cut after white space (the only context-dependent
 *   lower-casing, a final sigma, looks no further than white space), or after `maxRun`
 *   characters with none, where a Greek capital sigma at the cut may lower-case as if final.
 */
import type { Readable } from 'node:stream';
import { charsetDecoder, headerBlockText, textPieces, type MimePart, type TextPiece } from '../../protocol/imap/index.js';
import { transferDecoder } from '../../protocol/mime/index.js';
import { StreamedBody } from './fetch-stream.js';

/** Characters of text without white space lower-cased and matched at once at most. */
const maxRun = 64 * 1024;

/** Whether a code unit ends a piece (white space: neither cased nor case-ignorable). */
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c;

/** One text part's text as it comes: decoded, lower-cased in pieces, matched against `needle`. */
class TextScan {
  #pending = '';
  /** the end of the lower-cased text so far, a match across pieces starts there */
  #tail = '';
  found = false;
  readonly #decoder: InstanceType<typeof TextDecoder> | undefined;

  constructor(
    charset: string,
    private readonly needle: string,
  ) {
    this.#decoder = charsetDecoder(charset);
  }

  push(octets: Buffer): void {
    this.#take(this.#decoder ? this.#decoder.decode(octets, { stream: true }) : octets.toString('latin1'), false);
  }

  end(): void {
    this.#take(this.#decoder?.decode() ?? '', true);
  }

  #take(text: string, last: boolean): void {
    const s = this.#pending + text;
    let cut = s.length;
    if (!last) {
      while (cut > 0 && !isSpace(s.charCodeAt(cut - 1))) cut--;
      if (cut === 0 && s.length > maxRun) {
        cut = s.length;
        // not between the halves of a surrogate pair
        if (s.charCodeAt(cut - 1) >= 0xd800 && s.charCodeAt(cut - 1) < 0xdc00) cut--;
      }
    }
    this.#pending = s.slice(cut);
    if (cut === 0) return;
    const low = this.#tail + s.slice(0, cut).toLowerCase();
    if (low.includes(this.needle)) this.found = true;
    this.#tail = low.slice(Math.max(0, low.length - this.needle.length + 1));
  }
}

/**
 * Whether `needle` (lower-cased) is in the searchable text of the message whose tree is `tree`
 * (with its own header block when `withHeader`: TEXT), reading its text parts from `open`'s
 * stream; stops reading at the first match.
 */
export async function streamedTextHas(tree: MimePart, open: () => Promise<Readable>, needle: string, withHeader: boolean): Promise<boolean> {
  const pieces: TextPiece[] = [];
  if (withHeader) pieces.push({ header: headerBlockText(tree) });
  textPieces(tree, pieces);
  // an empty needle is in any text, and there is none without a text part or header
  if (needle === '') return pieces.length > 0;
  if (pieces.some((x) => 'header' in x && x.header.includes(needle))) return true;
  let body: StreamedBody | undefined;
  try {
    for (const x of pieces) {
      if ('header' in x || x.part.end <= x.part.bodyStart) continue;
      body ??= new StreamedBody(await open(), open);
      // an encoding not known is searched as written (as bodyText does)
      const d = transferDecoder(x.cte) ?? transferDecoder('binary')!;
      const scan = new TextScan(x.charset, needle);
      await body.write({ origin: x.part.bodyStart, length: x.part.end - x.part.bodyStart }, (b) => {
        scan.push(d.push(b));
        return Promise.resolve(!scan.found);
      });
      if (!scan.found) {
        scan.push(d.end());
        scan.end();
      }
      if (scan.found) return true;
    }
  } finally {
    body?.close();
  }
  return false;
}
