/**
 * @module message-reader
 * The stored octets and MIME tree of one message, for FETCH and SEARCH, with a small cache
 * (a client fetching a header then a body part reads the file once).
 * Standards: none (storage access).
 * Security: a message larger than `maxBytes` is not read whole: FETCH of its parts answers NO
 *   rather than growing the process without bound; one larger than `keepBelow` is not kept
 *   after its command (a session would otherwise hold up to `keep` of them).
 * Limitations: messages are read into memory (up to `maxBytes`) for SEARCH, SORT and CATENATE;
 *   FETCH of a big message takes its tree alone (`tree`) and reads its sections from the file
 *   (fetch-section, fetch-stream).
 */
import type { MailFolderStore } from '../../core/index.js';
import { parseMimeTree, parseMimeTreeStream, type MimePart } from '../../protocol/imap/index.js';

export interface LoadedMessage {
  readonly buf: Buffer;
  readonly tree: MimePart;
}

export class MessageTooLarge extends Error {}

export class MessageReader {
  private cache: { key: string; msg: LoadedMessage }[] = [];
  private trees: { key: string; tree: MimePart }[] = [];

  constructor(
    private readonly store: MailFolderStore,
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly keep = 4,
    private readonly keepBelow = 1024 * 1024,
  ) {}

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
