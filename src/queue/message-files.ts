/**
 * @module message-files
 * The files backend's one-file-per-message store: msg/<id> (body, trailer, footer: see
 * spool-format.ts) and its env/<id>.json override. Reading a message's envelopes reads only
 * the end of its file (one positional read of the last 16 KB, a second only when the trailer
 * is longer); the body is streamed from [0, B). Writes are durable before they resolve, through
 * util's atomic-write-file (written, fsynced, renamed, directory fsynced).
 * Standards: POSIX rename(2) atomicity and fsync(2).
 * Security: ids are checked (SpoolPaths.message) before they become paths; files are 0600;
 *   footer lengths are checked against the file's size before they are used.
 * Limitations: no locking: the caller serializes changes per message (FsQueueStore's mutex).
 */
import { open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { isQueueId, type Envelope, type MessageId } from '../core/index.js';
import { atomicWriteFile, type DirSyncer } from '../util/index.js';
import {
  CorruptItem, encodeEnvelopeFile, envelopeFile, footerSize, makeFooter, parseEnvelopeFile, parseFooter, parseTrailer,
  type EnvelopeFile, type Footer,
} from './spool-format.js';
import type { SpoolPaths } from './spool-layout.js';
import { errorCode } from './storage-error.js';

/** octets read from the end of a message file at once: footer and (usually) the whole trailer */
const tailRead = 16 * 1024;

/** Reads exactly `length` octets at `position` (a short read means the file changed: corrupt). */
async function readAt(fh: FileHandle, length: number, position: number, id: MessageId): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) throw new CorruptItem(`${id}: message file shorter than its footer says`);
    off += bytesRead;
  }
  return buf;
}

interface Opened {
  fh: FileHandle;
  size: number;
  footer: Footer;
  tail: Buffer;
}

export class MessageFiles {
  readonly #paths: SpoolPaths;
  readonly #syncer: DirSyncer;

  constructor(paths: SpoolPaths, syncer: DirSyncer) {
    this.#paths = paths;
    this.#syncer = syncer;
  }

  /** Opens a message file and checks its footer; the caller closes the handle. */
  async #openChecked(id: MessageId): Promise<Opened> {
    const fh = await open(this.#paths.message(id), 'r');
    try {
      const { size } = await fh.stat();
      if (size < footerSize) throw new CorruptItem(`${id}: message file shorter than a footer`);
      const n = Math.min(size, tailRead);
      const tail = await readAt(fh, n, size - n, id);
      const footer = parseFooter(tail.subarray(n - footerSize), size, id);
      return { fh, size, footer, tail };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /** The body of a message file, streamed (rejects when there is none, or it is damaged). */
  async openBody(id: MessageId): Promise<Readable> {
    const { fh, footer } = await this.#openChecked(id);
    if (footer.bodyLength === 0) {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream({ autoClose: true, start: 0, end: footer.bodyLength - 1, highWaterMark: 64 * 1024 });
  }

  async bodyLength(id: MessageId): Promise<number> {
    const { fh, footer } = await this.#openChecked(id);
    await fh.close();
    return footer.bodyLength;
  }

  /** The envelopes in a message file's trailer; undefined when there is no such message. */
  async readTrailer(id: MessageId): Promise<EnvelopeFile | undefined> {
    let opened;
    try {
      opened = await this.#openChecked(id);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const { fh, size, footer, tail } = opened;
    try {
      const need = footer.trailerLength + footerSize;
      const trailer = need <= tail.length
        ? tail.subarray(tail.length - need, tail.length - footerSize)
        : await readAt(fh, footer.trailerLength, size - need, id);
      return parseTrailer(trailer, footer, id);
    } finally {
      await fh.close();
    }
  }

  /** The env override of a message; undefined when it has none. */
  async readOverride(id: MessageId): Promise<EnvelopeFile | undefined> {
    try {
      return parseEnvelopeFile(await readFile(this.#paths.override(id), 'utf8'), id);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Replaces the env override atomically and durably; returns what it wrote. */
  async writeOverride(id: MessageId, envelopes: readonly Envelope[]): Promise<EnvelopeFile> {
    const file = envelopeFile(id, envelopes);
    // the temporary is dot-named in env/: recovery removes such leftovers
    await atomicWriteFile(this.#paths.override(id), encodeEnvelopeFile(file), { syncer: this.#syncer });
    return file;
  }

  /**
   * Writes a whole message file (a segment message leaving its segment) and makes it durable:
   * written in tmp/, fdatasynced, renamed into msg/, msg/ fsynced.
   */
  async writeWhole(id: MessageId, body: Buffer, file: EnvelopeFile): Promise<void> {
    const trailer = encodeEnvelopeFile(file);
    const data = Buffer.concat([body, trailer, makeFooter(body.length, trailer)]);
    await atomicWriteFile(this.#paths.message(id), data, { syncer: this.#syncer, tempDir: this.#paths.tmp });
  }

  /**
   * Removes a message whose last envelope left. The message file goes first: an env file without
   * its message is a leftover nobody reads, while a message file without its env file would
   * bring back the trailer's (delivered) envelopes. `override` false: known to have none.
   */
  async remove(id: MessageId, override: boolean | undefined): Promise<void> {
    await unlink(this.#paths.message(id));
    if (override === false) return;
    await unlink(this.#paths.override(id)).catch((err: unknown) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
  }

  /** Ids of the message files in msg/ (names that are not ids are left for recovery). */
  async listIds(): Promise<MessageId[]> {
    return (await readdir(this.#paths.msg)).filter(isQueueId);
  }

  /** Ids of the messages with an env override (listed after the messages, an override written before is seen). */
  async listOverrides(): Promise<Set<MessageId>> {
    return new Set((await readdir(this.#paths.env)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
  }
}
