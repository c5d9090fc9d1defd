/**
 * @module fetch-stream
 * The octets of a big message written into a FETCH response straight from its file: each range
 * a response asks for (the whole message, a section's octets, a partial <origin.length> of them,
 * or a BINARY section decoded on the way) is read from the store's stream and written to the
 * client as it comes, waiting while the client (or TLS, or COMPRESS)
 * has not taken the last chunk, so a session holds a chunk or two of it, not the message.
 * Standards: RFC 9051 §7.5.2 (BODY[]<origin> literals), §6.4.5 (partial); RFC 3516 §4.3
 *   (BINARY literal8).
 * Security: the literal's length is announced before its octets (from the size the store
 *   reports); a file that gives fewer octets than that ends the session (BodyCutShort) rather
 *   than let the client read the next response as message octets.
 * Limitations: a range before one already written reopens the file; reaching an origin reads
 *   the octets before it; a decoded section is read twice (its size first, for the literal) and
 *   whole for a partial of it.
 */
import type { Readable } from 'node:stream';
import { transferDecoder } from '../../protocol/mime/index.js';
import type { BodyRange } from './fetch-response.js';
import type { FileSection } from './fetch-section.js';

/** The file gave fewer octets than announced: the session's framing cannot go on. */
export class BodyCutShort extends Error {}

/** Messages from this size on (RFC822.SIZE) are streamed for RFC822, BODY[] and BINARY[] (docs/performance.md). */
export const streamFromDefault = 256 * 1024;

export class StreamedBody {
  #src: Readable;
  #it: AsyncIterator<Buffer>;
  /** the position in the message of the next octet #it gives (after #rest) */
  #pos = 0;
  /** octets read and not yet used, at #pos - #rest.length */
  #rest: Buffer | undefined;

  /** `src`: the message, opened already (so that one gone is found before its response starts). */
  constructor(
    src: Readable,
    private readonly reopen: () => Promise<Readable>,
  ) {
    this.#src = src;
    this.#it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next octets of the message, undefined at its end. */
  async #next(): Promise<Buffer | undefined> {
    if (this.#rest) {
      const r = this.#rest;
      this.#rest = undefined;
      return r;
    }
    const r = await this.#it.next();
    if (r.done) return undefined;
    const b = r.value;
    this.#pos += b.length;
    return b;
  }

  /**
   * Writes the octets of `range` through `write` (which resolves false when the client is gone);
   * false then. Throws BodyCutShort when the message ends before the range does.
   */
  async write(range: BodyRange, write: (b: Buffer) => Promise<boolean>): Promise<boolean> {
    if (!range.decode) return this.#raw(range, write);
    // decoded octets: the section is read through its decoder, those from `origin` written
    let at = 0;
    let left = range.length;
    const out = async (b: Buffer): Promise<boolean> => {
      const start = Math.min(b.length, Math.max(0, range.origin - at));
      const end = Math.min(b.length, start + left);
      at += b.length;
      if (end <= start) return true;
      left -= end - start;
      return write(b.subarray(start, end));
    };
    if (!(await this.#decoded(range.decode, out))) return false;
    if (left > 0) throw new BodyCutShort();
    return true;
  }

  /** The size of a file section decoded (RFC 3516 BINARY of an encoded part): read through its decoder once. */
  async decodedSize(section: FileSection): Promise<number> {
    let n = 0;
    await this.#decoded(section, (b) => {
      n += b.length;
      return Promise.resolve(true);
    });
    return n;
  }

  async #decoded(section: FileSection, out: (b: Buffer) => Promise<boolean>): Promise<boolean> {
    const d = transferDecoder(section.cte ?? '')!;
    const ok = await this.#raw({ origin: section.start, length: section.end - section.start }, (b) => out(d.push(b)));
    return ok && out(d.end());
  }

  async #raw(range: BodyRange, write: (b: Buffer) => Promise<boolean>): Promise<boolean> {
    let at = this.#pos - (this.#rest?.length ?? 0);
    if (range.origin < at) {
      this.close();
      this.#src = await this.reopen();
      this.#it = this.#src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      this.#pos = 0;
      this.#rest = undefined;
      at = 0;
    }
    let left = range.length;
    while (left > 0) {
      const b = await this.#next();
      if (!b) throw new BodyCutShort();
      const start = at < range.origin ? Math.min(b.length, range.origin - at) : 0;
      at += b.length;
      if (start === b.length) continue;
      const end = Math.min(b.length, start + left);
      if (end < b.length) this.#rest = b.subarray(end);
      if (this.#rest) at -= this.#rest.length;
      left -= end - start;
      if (!(await write(b.subarray(start, end)))) return false;
    }
    return true;
  }

  close(): void {
    this.#src.destroy();
  }
}
