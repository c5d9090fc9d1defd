/**
 * @module fs-message-draft
 * A draft of the files backend: the body as it streams in, until commit hands it to the
 * store's commit strategy (file-commit.ts: one file per message; segment-commit.ts: small
 * messages as segment records). A draft never reaches back into its store: it sees only the
 * strategy it was given.
 *
 * The body's first 64 KB are held in memory: a small message (most mail) is written whole at
 * commit, with its trailer and footer in one write (one thread-pool round trip less per
 * message), or appended to a segment without touching tmp/ at all. Past 64 KB the body streams
 * to tmp/<id>. A message given whole to commit() never needs the stream. prepend() puts a
 * header block before a finished body: in memory when the body stayed there, else by writing
 * tmp/<id>.h (the header, then the body copied from tmp/<id> in 64 KB pieces) and renaming it
 * over tmp/<id> — the message is never held whole, and commit makes it durable as before.
 * Standards: RFC 5321 §6.1 (commit resolves only once the message is safely stored).
 * Security: the draft's file is 0600 and created exclusively (O_EXCL).
 * Limitations: a draft lives in one process; one left by a crash is removed by recovery.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { envelopeIdOf, MailError, replies, type Envelope, type EnvelopeInit, type MessageDraft, type MessageId } from '../core/index.js';
import { copyWith, writeAll } from '../util/index.js';
import { encodeEnvelopeFile, envelopeFile, type EnvelopeFile } from './spool-format.js';
import { storageError } from './storage-error.js';

/** body octets a draft holds in memory before it streams them to its file */
const holdLimit = 64 * 1024;

/** What a commit strategy sees of a draft being committed. */
export interface CommittingDraft {
  readonly id: MessageId;
  /** the draft's file in tmp/ */
  readonly tmpPath: string;
  /** the whole body, when it stayed in memory (within holdLimit); undefined once it spilled */
  readonly whole: readonly Buffer[] | undefined;
  /** body octets not yet in the draft's file (the whole body when it did not spill) */
  readonly pending: readonly Buffer[];
  readonly size: number;
  readonly file: EnvelopeFile;
  /** `file` encoded (spool-format.ts) */
  readonly trailer: Buffer;
  /** the draft's file, made now if it was not */
  openFile(): Promise<FileHandle>;
  closeFile(): Promise<void>;
}

/** How a store stores a committed draft; one per store instance, chosen at open. */
export interface CommitStrategy {
  /** true: a draft makes its tmp/ file at once; false: only when its body outgrows memory */
  readonly fileAtCreate: boolean;
  /** stores the message and resolves once it is durable; on failure no message is committed */
  commit(draft: CommittingDraft): Promise<void>;
}

export class FsMessageDraft implements MessageDraft {
  readonly id: MessageId;
  /** made on first use: a message given whole to commit() never needs a stream */
  #body: Writable | undefined;
  readonly #strategy: CommitStrategy;
  #fh: FileHandle | undefined;
  readonly #path: string;
  #size = 0;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  #closed = false;

  /** the body's first octets, held until they pass `holdLimit` or until commit */
  #held: Buffer[] = [];
  #heldSize = 0;
  #spilled = false;

  private constructor(strategy: CommitStrategy, id: MessageId, path: string, fh: FileHandle | undefined) {
    this.#strategy = strategy;
    this.id = id;
    this.#path = path;
    this.#fh = fh;
  }

  /** A draft of message `id` whose file (if any) is `path`. */
  static async create(strategy: CommitStrategy, id: MessageId, path: string): Promise<FsMessageDraft> {
    try {
      const fh = strategy.fileAtCreate ? await open(path, 'wx', 0o600) : undefined;
      return new FsMessageDraft(strategy, id, path, fh);
    } catch (err) {
      throw storageError(err);
    }
  }

  get body(): Writable {
    this.#body ??= this.#makeBody();
    return this.#body;
  }

  #makeBody(): Writable {
    return new Writable({
      highWaterMark: holdLimit,
      writev: (chunks, cb) => {
        const bufs = chunks.map((c) => (Buffer.isBuffer(c.chunk) ? c.chunk : Buffer.from(c.chunk as string, c.encoding)));
        for (const b of bufs) this.#size += b.length;
        if (!this.#spilled) {
          this.#held.push(...bufs);
          this.#heldSize += bufs.reduce((n, b) => n + b.length, 0);
          if (this.#heldSize <= holdLimit) return cb();
          this.#spilled = true;
          bufs.splice(0, bufs.length, ...this.#held);
          this.#held = [];
          this.#heldSize = 0;
        }
        this.#file()
          .then((fh) => writeAll(fh, bufs))
          .then(() => cb(), (err: unknown) => cb(storageError(err)));
      },
    });
  }

  async #file(): Promise<FileHandle> {
    this.#fh ??= await open(this.#path, 'wx', 0o600);
    return this.#fh;
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh?.close();
  }

  async commit(inits: readonly EnvelopeInit[], whole?: readonly Buffer[]): Promise<Envelope[]> {
    if (inits.length === 0 && this.#state === 'open') throw new MailError(replies.noValidRecipients(), 'MAIL_ERR_NO_RECIPIENTS');
    // every field of an init is kept as given (unknown ones too): storage does not pick fields
    return this.#commit((size) => inits.map((init, i) => copyWith(init, { id: envelopeIdOf(this.id, i), messageId: this.id, size, attempts: init.attempts ?? [] })), whole);
  }

  /**
   * Commits the body written to `body` (streamed: past 64 KB it is in tmp/, not in memory)
   * with envelopes kept exactly as given (ids, states, attempts): a message copied from
   * another backend (`correio migrate --to file:`). The caller checked that they belong to
   * this message (queue-ids.ts isImport).
   */
  async commitCopy(envelopes: readonly Envelope[]): Promise<void> {
    if (envelopes.length === 0 && this.#state === 'open') throw new MailError(replies.noValidRecipients(), 'MAIL_ERR_NO_RECIPIENTS');
    await this.#commit(() => [...envelopes], undefined);
  }

  async #commit(envelopesOf: (size: number) => Envelope[], whole: readonly Buffer[] | undefined): Promise<Envelope[]> {
    if (this.#state !== 'open' || (whole && this.#body)) throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    this.#state = 'committing';
    try {
      if (whole) {
        this.#held = [...whole];
        this.#heldSize = this.#size = whole.reduce((n, b) => n + b.length, 0);
        // a large message goes to its own file, as a streamed one past holdLimit does
        this.#spilled = this.#size > holdLimit;
      } else await finished(this.body);
      const envelopes = envelopesOf(this.#size);
      const file = envelopeFile(this.id, envelopes);
      const pending = this.#held;
      this.#held = [];
      await this.#strategy.commit({
        id: this.id,
        tmpPath: this.#path,
        whole: this.#spilled ? undefined : pending,
        pending,
        size: this.#size,
        file,
        trailer: encodeEnvelopeFile(file),
        openFile: () => this.#file(),
        closeFile: () => this.#close(),
      });
      this.#closed = true; // the strategy closed the file, or there never was one
      this.#state = 'committed';
      return envelopes;
    } catch (err) {
      this.#state = 'open';
      await this.abort();
      throw storageError(err);
    }
  }

  /** The body written so far: what is held in memory, else the draft's file (its own read handle). */
  written(): Readable {
    if (!this.#spilled) return Readable.from([...this.#held], { objectMode: false });
    return createReadStream(this.#path, { highWaterMark: holdLimit });
  }

  async prepend(header: Buffer): Promise<void> {
    if (this.#state !== 'open') throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    await finished(this.body);
    this.#size += header.length;
    if (!this.#spilled) {
      this.#held.unshift(header);
      this.#heldSize += header.length;
      return;
    }
    const next = `${this.#path}.h`;
    let from: FileHandle | undefined;
    let to: FileHandle | undefined;
    try {
      // the draft's own handle writes only
      from = await open(this.#path, 'r');
      to = await open(next, 'wx', 0o600);
      await writeAll(to, [header]);
      const piece = Buffer.allocUnsafe(holdLimit);
      for (let pos = 0; ; ) {
        const { bytesRead } = await from.read(piece, 0, piece.length, pos);
        if (bytesRead === 0) break;
        await writeAll(to, [piece.subarray(0, bytesRead)]);
        pos += bytesRead;
      }
      await rename(next, this.#path);
    } catch (err) {
      await from?.close().catch(() => undefined);
      await to?.close().catch(() => undefined);
      await unlink(next).catch(() => undefined);
      throw storageError(err);
    }
    await from.close().catch(() => undefined);
    // the new handle names the renamed file, positioned after the body: the commit appends there
    await this.#fh?.close().catch(() => undefined);
    this.#fh = to;
  }

  async abort(): Promise<void> {
    if (this.#state === 'committed' || this.#state === 'aborted') return;
    if (this.#state === 'committing') return; // commit's own failure path aborts
    this.#state = 'aborted';
    if (this.#body && !this.#body.destroyed) this.#body.destroy();
    const hadFile = this.#fh !== undefined;
    await this.#close().catch(() => undefined);
    if (hadFile) await unlink(this.#path).catch(() => undefined);
  }
}
