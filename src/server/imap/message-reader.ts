/**
 * @module message-reader
 * The stored octets and MIME tree of one message, for FETCH and SEARCH, with a small cache
 * (a client fetching a header then a body part reads the file once).
 * Standards: none (storage access).
 * Security: a message larger than `maxBytes` is not read whole: FETCH of its parts answers NO
 *   rather than growing the process without bound; one larger than `keepBelow` is not kept
 *   after its command (a session would otherwise hold up to `keep` of them).
 *   The header fields alone (`headers`) are read from the file's start to the header block's
 *   empty line, at most `maxHeader` octets (1 MiB): what SEARCH's header keys, SORT and THREAD need.
 * Limitations: messages are read into memory (up to `maxBytes`) for CATENATE and for SEARCH
 *   BODY/TEXT of a message under `fetchStreamFrom` (256 KiB; a larger one is searched
 *   streamed: search-target, search-text-stream);
 *   FETCH of a big message takes its tree alone (`tree`) and reads its sections from the file
 *   (fetch-section, fetch-stream). A header block longer than `maxHeader` is read as its lines
 *   within the first `maxHeader` octets (what follows is not looked at).
 */
import type { MailFolderStore } from '../../core/index.js';
import { parseMimeTree, parseMimeTreeStream, type MimePart } from '../../protocol/imap/index.js';
import { decodeHeaderBytes, parseHeaderFields, type HeaderField } from '../../protocol/mime/index.js';

export interface LoadedMessage {
  readonly buf: Buffer;
  readonly tree: MimePart;
}

export class MessageTooLarge extends Error {}

/** Octets read at a time for a header block (`headers`). */
const headerChunk = 4096;

export class MessageReader {
  private cache: { key: string; msg: LoadedMessage }[] = [];
  private trees: { key: string; tree: MimePart }[] = [];

  constructor(
    private readonly store: MailFolderStore,
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly keep = 4,
    private readonly keepBelow = 1024 * 1024,
    private readonly maxHeader = 1024 * 1024,
  ) {}

  /**
   * The message's own header fields, read from its file up to the empty line that ends its
   * header block (the fields parseMimeTree gives the message), never further than `maxHeader`
   * octets: the body is not read past the chunk that ends the header block and the stream's
   * one chunk of read-ahead (8 KiB per message in all for a short header: docs/performance.md).
   */
  async headers(user: string, folder: string, key: string): Promise<readonly HeaderField[]> {
    const hit = this.cache.find((c) => c.key === `${folder}\u0000${key}`);
    if (hit) return hit.msg.tree.fields;
    // read 4 KiB at a time (most header blocks fit), not the store's 64 KiB, which takes a small file whole
    const src = await this.store.open(user, folder, key, { chunk: headerChunk });
    // the chunks joined once at the end: a long header block is not copied again at each chunk
    const parts: Buffer[] = [];
    let read = 0;
    let end = -1;
    try {
      for await (const c of src as AsyncIterable<Buffer>) {
        end = endAcross(parts, read, c);
        parts.push(c);
        read += c.length;
        if (end >= 0 || read >= this.maxHeader) break;
      }
    } finally {
      src.destroy();
    }
    const head = parts.length === 1 ? parts[0] : Buffer.concat(parts, read);
    // no empty line within the bound: the whole lines read (a message with no body: all of it)
    const cut = end >= 0 && end <= this.maxHeader ? end : head.length < this.maxHeader ? head.length : head.lastIndexOf(0x0a, this.maxHeader - 1) + 1;
    return parseHeaderFields(decodeHeaderBytes(head.subarray(0, cut)));
  }

  async load(user: string, folder: string, key: string): Promise<LoadedMessage> {
    const hit = this.cache.find((c) => c.key === `${folder}\u0000${key}`);
    if (hit) return hit.msg;
    const src = await this.store.open(user, folder, key);
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of src as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > this.maxBytes) {
        src.destroy();
        throw new MessageTooLarge();
      }
      parts.push(c);
    }
    const buf = Buffer.concat(parts);
    const msg = { buf, tree: parseMimeTree(buf) };
    if (buf.length > this.keepBelow) return msg;
    this.cache.unshift({ key: `${folder}\u0000${key}`, msg });
    if (this.cache.length > this.keep) this.cache.length = this.keep;
    return msg;
  }

  /**
   * The MIME tree of a message made from its file in one streamed pass (header blocks and
   * offsets: mime-tree parseMimeTreeStream), whatever its size; the last few are kept.
   */
  async tree(user: string, folder: string, key: string): Promise<MimePart> {
    const k = `${folder}\u0000${key}`;
    const hit = this.trees.find((c) => c.key === k);
    if (hit) return hit.tree;
    const src = await this.store.open(user, folder, key);
    let tree: MimePart;
    try {
      tree = await parseMimeTreeStream(src as AsyncIterable<Buffer>);
    } finally {
      src.destroy();
    }
    this.trees.unshift({ key: k, tree });
    if (this.trees.length > this.keep) this.trees.length = this.keep;
    return tree;
  }

  forget(): void {
    this.cache = [];
    this.trees = [];
  }
}

/**
 * The offset after the empty line ending a header block (mime-tree's rule: a line that is LF or
 * CRLF alone, the first line included), looking at lines that start at or after `from`; -1 when
 * there is none yet.
 */
/**
 * Where the header block ends in what was read (`read` octets in `parts`) followed by `c`, or -1:
 * headerEnd from two octets before `c`, looked for in the last three octets read and `c` only.
 */
function endAcross(parts: readonly Buffer[], read: number, c: Buffer): number {
  const tail: number[] = [];
  for (let i = parts.length - 1; i >= 0 && tail.length < 3; i--) {
    for (let j = parts[i].length - 1; j >= 0 && tail.length < 3; j--) tail.unshift(parts[i][j]);
  }
  const at = read - tail.length;
  const end = headerEnd(tail.length === 0 ? c : Buffer.concat([Buffer.from(tail), c]), Math.max(0, read - 2) - at);
  return end < 0 ? -1 : end + at;
}

export function headerEnd(b: Buffer, from: number): number {
  // the start of the first line at or after `from`
  let i = from === 0 ? 0 : b.indexOf(0x0a, from - 1) + 1;
  while (i > 0 || (i === 0 && from === 0)) {
    if (i >= b.length) return -1;
    if (b[i] === 0x0a) return i + 1;
    if (b[i] === 0x0d) {
      if (i + 1 >= b.length) return -1;
      if (b[i + 1] === 0x0a) return i + 2;
    }
    const lf = b.indexOf(0x0a, i);
    if (lf < 0) return -1;
    i = lf + 1;
  }
  return -1;
}
