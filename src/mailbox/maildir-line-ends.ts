/**
 * @module maildir-line-ends
 * Line ends of Maildir files: messages arrive with CRLF and are stored with LF (the Unix Maildir
 * convention), and are read back with CRLF; the sizes a protocol reports are the CRLF ones.
 * Standards: RFC 5322 §2.1 (CRLF on the wire); RFC 1939 §11 / RFC 3501 §2.3.4 (sizes counted
 *   with CRLF); the Maildir spec (files as the local system writes text); RFC 3516 §4.4 (a
 *   binary APPEND the store cannot keep is refused with UNKNOWN-CTE).
 * Security: files are opened with O_NOFOLLOW (a symbolic link fails with ELOOP).
 * Limitations: a lone CR is kept as it is both ways; a stored CRLF is read back unchanged. A
 *   bare LF (or CR CR LF) that arrives is stored as a line end and read back as CRLF: the file
 *   cannot tell it from one; so an APPEND of binary content (RFC 3516 literal8) holding one is
 *   refused (maildirExactOctets, NO [UNKNOWN-CTE]), a plain literal's is normalised.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';

const LF = 0x0a;
const CR = 0x0d;

/** open(2) flags for reading a message file: a symbolic link fails with ELOOP. */
export const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/**
 * Whether a message (CRLF) is read back from its file exactly as given: every LF follows one CR
 * (no bare LF, which comes back as CRLF, nor CR CR LF, which comes back as CRLF).
 */
export function roundTrips(octets: Buffer): boolean {
  return roundTripPieces()(octets);
}

/** roundTrips over a message given in pieces, in order: false from the first piece that does not round-trip. */
export function roundTripPieces(): (piece: Buffer) => boolean {
  /** the two octets before the piece (-1: none) */
  let p1 = -1;
  let p2 = -1;
  let ok = true;
  return (piece) => {
    if (!ok) return false;
    for (let i = piece.indexOf(LF); i >= 0; i = piece.indexOf(LF, i + 1)) {
      const before = i >= 1 ? piece[i - 1] : p1;
      const twoBefore = i >= 2 ? piece[i - 2] : i === 1 ? p1 : p2;
      if (before !== CR || twoBefore === CR) return (ok = false);
    }
    if (piece.length >= 2) [p2, p1] = [piece[piece.length - 2], piece[piece.length - 1]];
    else if (piece.length === 1) [p2, p1] = [p1, piece[0]];
    return true;
  };
}

/** Maildir's ExactOctets (MailFolderStore.exactOctets): what roundTrips keeps. */
export const maildirExactOctets = {
  check: roundTripPieces,
  why: 'This mailbox keeps line ends as CRLF: a bare LF, or a CR before CRLF, would not come back as sent',
} as const;

/**
 * CRLF → LF over a message given in pieces, counting what is written (`stored`) and what reading
 * back with CRLF gives (`virtual`); a CR at the end of a piece waits for the next one.
 */
export class CrlfToLfCounter {
  stored = 0;
  virtual = 0;
  #pendingCr = false;
  #last = -1;

  /** The LF form of the next piece (possibly empty). */
  convert(chunk: Buffer): Buffer {
    let buf = this.#pendingCr ? Buffer.concat([Buffer.of(CR), chunk]) : chunk;
    this.#pendingCr = false;
    if (buf.length > 0 && buf[buf.length - 1] === CR) {
      this.#pendingCr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = buf.indexOf(CR); i >= 0 && i < buf.length - 1; i = buf.indexOf(CR, i + 1)) {
      if (buf[i + 1] === LF) {
        parts.push(buf.subarray(from, i));
        from = i + 1;
      }
    }
    parts.push(buf.subarray(from));
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.#count(out);
    return out;
  }

  /** What is left at the end: a last lone CR, or nothing. */
  finish(): Buffer {
    if (!this.#pendingCr) return Buffer.alloc(0);
    this.#pendingCr = false;
    const out = Buffer.of(CR);
    this.#count(out);
    return out;
  }

  #count(out: Buffer): void {
    this.stored += out.length;
    this.virtual += out.length;
    for (let i = out.indexOf(LF); i >= 0; i = out.indexOf(LF, i + 1)) {
      const prev = i > 0 ? out[i - 1] : this.#last;
      if (prev !== CR) this.virtual++;
    }
    if (out.length > 0) this.#last = out[out.length - 1];
  }
}

/** CRLF → LF while streaming (CrlfToLfCounter as a Transform). */
export class CrlfToLf extends Transform {
  readonly #counter: CrlfToLfCounter;

  /** `counter`: one that already converted the message's first pieces */
  constructor(counter = new CrlfToLfCounter()) {
    super();
    this.#counter = counter;
  }

  get stored(): number {
    return this.#counter.stored;
  }

  get virtual(): number {
    return this.#counter.virtual;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.#counter.convert(chunk);
    if (out.length > 0) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    const out = this.#counter.finish();
    if (out.length > 0) this.push(out);
    cb();
  }
}

/** LF → CRLF while reading (an LF already preceded by CR is left alone). */
export class LfToCrlf extends Transform {
  #last = -1;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      const prev = i > 0 ? chunk[i - 1] : this.#last;
      if (prev !== CR) {
        parts.push(chunk.subarray(from, i), Buffer.of(CR));
        from = i;
      }
    }
    parts.push(chunk.subarray(from));
    if (chunk.length > 0) this.#last = chunk[chunk.length - 1];
    this.push(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    cb();
  }
}

/** CRLF size of a file stored with LF line ends (for foreign files without W=). */
export async function virtualSize(path: string): Promise<number> {
  const fh = await open(path, READ_NOFOLLOW);
  try {
    let size = 0;
    let last = -1;
    for await (const chunk of fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
        if ((i > 0 ? chunk[i - 1] : last) !== CR) size++;
      }
      if (chunk.length > 0) last = chunk[chunk.length - 1];
    }
    return size;
  } finally {
    await fh.close();
  }
}
