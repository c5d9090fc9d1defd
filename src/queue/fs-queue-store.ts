/**
 * @module fs-queue-store
 * The default spool: one file per message under one directory (`<data_dir>/spool`), like
 * Postfix's queue files.
 *
 *   tmp/<id>          a draft: the body as it streams in; never a message
 *   msg/<id>          a committed message (spool format 2, below); renaming into msg/ commits
 *   env/<id>.json     envelope override: written once the envelopes change after commit
 *                     (putEnvelope, deleteEnvelope while others remain); replaces the trailer's
 *   corrupt/          items found damaged, moved aside for the operator, never deleted
 *   format            "correio-spool 2": the on-disk format of this spool
 *   lock              pid of the process that owns recovery
 *
 * A message file (format 2) is the body, then a trailer, then a 32-octet footer:
 *
 *   [0, B)            the body (CRLF, not dot-stuffed)
 *   [B, B+T)          the trailer: {"v":1,"messageId":…,"envelopes":[…]} as JSON (UTF-8)
 *   [B+T, B+T+32)     the footer: "CRQSPOOL", u32 format (2), u64 B, u32 T, u32 CRC-32 of the
 *                     trailer, u32 CRC-32 of the footer's first 28 octets (all big-endian)
 *
 * commit(): the body streams into tmp/<id> (its first 64 KB held in memory, so a small message
 * is written whole at commit); commit writes the rest of the body + trailer + footer in one write,
 * fdatasyncs the file, renames it into msg/ (the commit point) and fsyncs msg/ (DirSyncer: N
 * concurrent commits share a few directory fsyncs, through a handle kept open). One file created,
 * one file sync, one rename per message. Reading a message's envelopes reads only the end of its
 * file (one positional read of the last 16 KB, a second only when the trailer is longer); the
 * body is streamed from [0, B).
 *
 * Crash windows, and what recovery (open() as owner) does with them:
 * - a draft in tmp/ (crash before the rename, or a commit that failed): removed;
 * - a message file whose footer or trailer does not check out: moved to corrupt/ (with its env
 *   file); also an env file that does not parse (with its message);
 * - an env file without its message: the last envelope was being deleted (the message file is
 *   unlinked first, then the env file): removed. Unlinking in the other order could resurrect the
 *   trailer's delivered envelopes; this order can only leave an orphan nobody reads;
 * - an env override half written: it is written to a dot-named temporary, fsynced and renamed,
 *   so a crash leaves the old state (trailer or previous override) plus a temporary: removed.
 * Old spools (format 1: msg/<id> bodies without footer beside env/<id>.json) are refused at
 * open() with an error naming the spool: no `format` file in a spool that holds messages.
 * Standards: RFC 5321 §6.1 (a message is accepted only once safely stored); seed §2 (spool).
 * Security: ids are checked against a strict alphabet before they become paths; files are 0600;
 *   lengths in a footer are checked against the file's size and a CRC before they are used.
 * Limitations: envelope updates are serialized per message inside one process only; two
 *   processes may commit new messages concurrently, but only one (the owner of `lock`) should
 *   run deliveries. A deletion lost in a power failure causes a duplicate delivery, never a loss
 *   (deleting the last envelope does not fsync the directory; if the env file's unlink reached
 *   the disk and the message file's did not, the trailer's envelopes come back). A walk that
 *   runs while envelopes change may see an envelope's previous state.
 */
import { writeFile as writeFileCb } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  MailError, replies,
  type Envelope, type EnvelopeId, type EnvelopeInit, type MessageDraft, type MessageId, type QueueStore,
} from '../core/index.js';
import { DirSyncer, KeyedMutex, atomicWriteFile, uniqueId, writeAll } from '../util/index.js';
import { storageError } from './storage-error.js';

export interface FsQueueStoreOptions {
  /**
   * Clean leftovers and move corrupt items aside at open: 'auto' (default) does it when no other
   * live process owns the spool (see `lock`), 'always' forces it, 'never' skips it.
   */
  recover?: 'auto' | 'always' | 'never';
  /**
   * false: never take `lock` (a reader such as a test polling the spool of a running server;
   * `owner` is then false and 'auto' recovery does not run). Default true.
   */
  lock?: boolean;
  /** creates message ids (default util's uniqueId) */
  newId?: () => string;
  /**
   * Keep what this instance commits and reads (envelope lists, whether an env file exists, the
   * bodies of small messages) in memory, bounded, and answer reads from there. Only for the one
   * instance that changes committed messages (the one running deliveries): other processes may
   * commit new messages, but a change made elsewhere to a message already known here would not
   * be seen. Default false.
   */
  cache?: boolean;
}

/** What a caching store knows about a message without reading its files. */
interface Known {
  file: EnvelopeFile;
  /** env/<id>.json exists (the trailer's envelopes are overridden) */
  envFile: boolean;
  /** the body's length, -1 when not known */
  bodyLength: number;
  /** the whole body, for a small message committed here */
  body?: Buffer;
}

/** messages a caching store remembers, and the body octets it keeps, at most */
const knownLimit = 50_000;
const knownBodyBudget = 64 * 1024 * 1024;

/** What open() found and did; also returned by recover(). */
export interface RecoveryReport {
  messages: number;
  envelopes: number;
  /** leftover drafts, temporary files and orphaned env files removed */
  removed: string[];
  /** items moved to corrupt/ */
  corrupted: string[];
}

interface EnvelopeFile {
  v: 1;
  messageId: MessageId;
  envelopes: Envelope[];
}

/** The spool format this code reads and writes (the footer's version and the `format` file). */
export const spoolFormat = 2;
const formatText = `correio-spool ${spoolFormat}\n`;
const footerMagic = Buffer.from('CRQSPOOL', 'latin1');
const footerSize = 32;
/** octets read from the end of a message file at once: footer and (usually) the whole trailer */
const tailRead = 16 * 1024;
/** body octets a draft holds in memory before it streams them to its file */
const holdLimit = 64 * 1024;

const idPattern = /^[0-9a-z]{1,64}$/;
const envelopeSeparator = '-';

/** The message id an envelope id belongs to (envelope ids are "<messageId>-<n>"). */
export function messageIdOfEnvelope(id: EnvelopeId): MessageId | undefined {
  const i = id.lastIndexOf(envelopeSeparator);
  if (i <= 0) return undefined;
  const msg = id.slice(0, i);
  return idPattern.test(msg) && /^\d{1,6}$/.test(id.slice(i + 1)) ? msg : undefined;
}

/** A spool item that does not check out (bad footer, trailer or env file): moved to corrupt/. */
class CorruptItem extends SyntaxError {}

function parseEnvelopeFile(text: string, expectedId: MessageId): EnvelopeFile {
  let data: Partial<EnvelopeFile>;
  try {
    data = JSON.parse(text) as Partial<EnvelopeFile>;
  } catch {
    throw new CorruptItem(`${expectedId}: envelopes are not JSON`);
  }
  if (
    data?.v !== 1 || data.messageId !== expectedId || !Array.isArray(data.envelopes) || data.envelopes.length === 0 ||
    !data.envelopes.every((e) => typeof e?.id === 'string' && e.messageId === expectedId && typeof e.recipient === 'object' && typeof e.route === 'object')
  ) {
    throw new CorruptItem(`${expectedId}: not a correio envelope list`);
  }
  return data as EnvelopeFile;
}

/** The footer for a body of `bodyLength` octets followed by `trailer`. */
function makeFooter(bodyLength: number, trailer: Buffer): Buffer {
  const f = Buffer.alloc(footerSize);
  footerMagic.copy(f, 0);
  f.writeUInt32BE(spoolFormat, 8);
  f.writeBigUInt64BE(BigInt(bodyLength), 12);
  f.writeUInt32BE(trailer.length, 20);
  f.writeUInt32BE(crc32(trailer), 24);
  f.writeUInt32BE(crc32(f.subarray(0, 28)), 28);
  return f;
}

interface Footer {
  bodyLength: number;
  trailerLength: number;
  trailerCrc: number;
}

function parseFooter(f: Buffer, fileSize: number, id: MessageId): Footer {
  if (f.length !== footerSize || !f.subarray(0, 8).equals(footerMagic)) {
    throw new CorruptItem(`${id}: no spool footer (not a format ${spoolFormat} message file)`);
  }
  if (f.readUInt32BE(28) !== crc32(f.subarray(0, 28))) throw new CorruptItem(`${id}: footer checksum mismatch`);
  const version = f.readUInt32BE(8);
  if (version !== spoolFormat) throw new CorruptItem(`${id}: spool format ${version}, expected ${spoolFormat}`);
  const body = f.readBigUInt64BE(12);
  const trailerLength = f.readUInt32BE(20);
  if (body + BigInt(trailerLength) + BigInt(footerSize) !== BigInt(fileSize)) {
    throw new CorruptItem(`${id}: footer lengths do not match the file size`);
  }
  return { bodyLength: Number(body), trailerLength, trailerCrc: f.readUInt32BE(24) };
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Writes a new file (never replacing one) and fsyncs it: fs.writeFile's open, write, fsync
 * (flush) and close, on plain descriptors. */
function writeNewDurable(path: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    writeFileCb(path, data, { flag: 'wx', mode: 0o600, flush: true }, (err) => (err ? reject(err) : resolve()));
  });
}

/** Writes every octet of `bufs` at `position`, looping over short writes. */
async function writeAllAt(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.length;
  let done = (await fh.writev(bufs, position)).bytesWritten;
  if (done < total) {
    const rest = Buffer.concat(bufs).subarray(done);
    let off = 0;
    while (off < rest.length) {
      const n = (await fh.write(rest, off, rest.length - off, position + done)).bytesWritten;
      off += n;
      done += n;
    }
  }
}

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

/** fsync errors that mean "directories cannot be synced here" (as util's fsyncDir). */
function dirSyncUnsupported(err: unknown): boolean {
  const code = errno(err);
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL';
}

let tmpCounter = 0;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

class FsMessageDraft implements MessageDraft {
  readonly id: MessageId;
  readonly body: Writable;
  readonly #store: FsQueueStore;
  readonly #fh: FileHandle;
  readonly #path: string;
  #size = 0;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  #closed = false;

  /** the body's first octets, held until they pass `holdLimit` or until commit */
  #held: Buffer[] = [];
  #heldSize = 0;
  #spilled = false;

  constructor(store: FsQueueStore, id: MessageId, fh: FileHandle, path: string) {
    this.#store = store;
    this.id = id;
    this.#fh = fh;
    this.#path = path;
    // A small body (most mail) is written with its trailer and footer in one write at commit:
    // one thread-pool round trip less per message. Past holdLimit it streams to the file.
    this.body = new Writable({
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
        writeAll(fh, bufs).then(() => cb(), (err: unknown) => cb(storageError(err)));
      },
    });
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }

  async commit(inits: readonly EnvelopeInit[]): Promise<Envelope[]> {
    if (this.#state !== 'open') throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    if (inits.length === 0) throw new MailError(replies.noValidRecipients(), 'MAIL_ERR_NO_RECIPIENTS');
    this.#state = 'committing';
    let renamed = false;
    const target = this.#store.messagePath(this.id);
    try {
      await finished(this.body);
      const envelopes: Envelope[] = inits.map((init, i) => ({
        ...init,
        id: `${this.id}${envelopeSeparator}${i + 1}`,
        messageId: this.id,
        size: this.#size,
        attempts: init.attempts ?? [],
      }));
      const file: EnvelopeFile = { v: 1, messageId: this.id, envelopes };
      const trailer = Buffer.from(JSON.stringify(file));
      // trailer and footer in one write after the body; one fdatasync makes all of it durable
      // (fdatasync covers the file size, which is what retrieving the data needs: POSIX)
      const held = this.#spilled ? undefined : this.#held;
      await writeAllAt(this.#fh, [...this.#held, trailer, makeFooter(this.#size, trailer)], this.#size - this.#heldSize);
      this.#held = [];
      await this.#fh.datasync();
      await rename(this.#path, target); // the commit point, durable once msg/ is fsynced
      renamed = true;
      await Promise.all([this.#close().catch(() => undefined), this.#store.syncMessageDir()]);
      this.#state = 'committed';
      this.#store.remember(this.id, { file, envFile: false, bodyLength: this.#size }, held);
      return envelopes;
    } catch (err) {
      this.#state = 'open';
      if (renamed) await unlink(target).catch(() => undefined);
      await this.abort();
      throw storageError(err);
    }
  }

  async abort(): Promise<void> {
    if (this.#state === 'committed' || this.#state === 'aborted') return;
    if (this.#state === 'committing') return; // commit's own failure path aborts
    this.#state = 'aborted';
    if (!this.body.destroyed) this.body.destroy();
    await this.#close().catch(() => undefined);
    await unlink(this.#path).catch(() => undefined);
  }
}

export class FsQueueStore implements QueueStore {
  readonly dir: string;
  readonly #tmpDir: string;
  readonly #msgDir: string;
  readonly #envDir: string;
  readonly #corruptDir: string;
  /** directory handles kept open for fsync, by path */
  readonly #dirHandles = new Map<string, Promise<FileHandle | undefined>>();
  readonly #syncer = new DirSyncer((dir) => this.#fsyncDir(dir));
  readonly #locks = new KeyedMutex();
  readonly #newId: () => string;
  /** what a caching store knows (options.cache), oldest first; undefined when not caching */
  readonly #known: Map<MessageId, Known> | undefined;
  #knownBodyBytes = 0;
  #owner = false;
  #closed = false;

  private constructor(dir: string, opts: FsQueueStoreOptions) {
    this.dir = dir;
    this.#tmpDir = join(dir, 'tmp');
    this.#msgDir = join(dir, 'msg');
    this.#envDir = join(dir, 'env');
    this.#corruptDir = join(dir, 'corrupt');
    this.#newId = opts.newId ?? (() => uniqueId());
    this.#known = opts.cache ? new Map() : undefined;
  }

  /** @internal records what a caching store now knows of a message (body: the held chunks) */
  remember(id: MessageId, k: Known, body?: Buffer[]): void {
    const known = this.#known;
    if (!known) return;
    this.#forget(id);
    if (body && k.bodyLength <= holdLimit && this.#knownBodyBytes + k.bodyLength <= knownBodyBudget) {
      k.body = body.length === 1 ? body[0] : Buffer.concat(body, k.bodyLength);
      this.#knownBodyBytes += k.bodyLength;
    }
    known.set(id, k);
    if (known.size > knownLimit) this.#forget(known.keys().next().value!);
  }

  #forget(id: MessageId): void {
    const k = this.#known?.get(id);
    if (!k) return;
    if (k.body) this.#knownBodyBytes -= k.bodyLength;
    this.#known!.delete(id);
  }

  /**
   * Opens (creating if needed) the spool in `dir` and recovers it (see FsQueueStoreOptions.recover).
   * Rejects a spool of another format (see the module header) with an Error naming it.
   */
  static async open(dir: string, opts: FsQueueStoreOptions = {}): Promise<FsQueueStore> {
    const store = new FsQueueStore(dir, opts);
    for (const d of [dir, store.#tmpDir, store.#msgDir, store.#envDir, store.#corruptDir]) await mkdir(d, { recursive: true, mode: 0o700 });
    await store.#checkFormat();
    store.#owner = opts.lock === false ? false : await store.#takeLock();
    const mode = opts.recover ?? 'auto';
    if (mode === 'always' || (mode === 'auto' && store.#owner)) store.lastRecovery = await store.recover();
    return store;
  }

  /** What the recovery at open() found, when it ran. */
  lastRecovery: RecoveryReport | undefined;

  /** Whether this instance owns the spool (took `lock`): the one that should run deliveries. */
  get owner(): boolean {
    return this.#owner;
  }

  async #checkFormat(): Promise<void> {
    const path = join(this.dir, 'format');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw storageError(err);
      const used = (await readdir(this.#msgDir)).length > 0 || (await readdir(this.#envDir)).some((n) => n.endsWith('.json'));
      if (used) {
        throw new Error(
          `spool ${this.dir} is in the format of an older correio (env/<id>.json beside msg/<id>, no "format" file); ` +
            `this correio reads spool format ${spoolFormat} only: deliver that queue with the older version, or move the spool away`,
        );
      }
      // durable before any message is committed: a spool with messages and no format file is refused
      await atomicWriteFile(path, formatText);
      return;
    }
    if (text !== formatText) throw new Error(`spool ${this.dir}: unsupported format ${JSON.stringify(text.trim())}, expected "${formatText.trim()}"`);
  }

  async #takeLock(): Promise<boolean> {
    const path = join(this.dir, 'lock');
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw storageError(err);
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) return false; // includes our own pid: another instance here
    await atomicWriteFile(path, `${process.pid}\n`);
    return true;
  }

  #envPath(id: MessageId): string {
    return join(this.#envDir, `${id}.json`);
  }

  /** @internal the committed message file of `id` (throws on an id that is not a queue id) */
  messagePath(id: MessageId): string {
    if (!idPattern.test(id)) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    return join(this.#msgDir, id);
  }

  async #fsyncDir(dir: string): Promise<void> {
    let h = this.#dirHandles.get(dir);
    if (!h) {
      h = open(dir, 'r').catch((err: unknown) => {
        this.#dirHandles.delete(dir);
        if (dirSyncUnsupported(err)) return undefined;
        throw err;
      });
      this.#dirHandles.set(dir, h);
    }
    const fh = await h;
    if (!fh) return;
    try {
      await fh.sync();
    } catch (err) {
      if (!dirSyncUnsupported(err)) throw err;
    }
  }

  /** @internal for drafts */
  syncMessageDir(): Promise<void> {
    return this.#syncer.sync(this.#msgDir);
  }

  /** Writes the env override atomically: tmp + fsync, rename, directory fsync. */
  async #writeEnvelopeFile(id: MessageId, envelopes: readonly Envelope[]): Promise<void> {
    const data: EnvelopeFile = { v: 1, messageId: id, envelopes: envelopes as Envelope[] };
    const path = this.#envPath(id);
    // unique among processes (pid) and among this process's writers (counter)
    let tmp = join(this.#envDir, `.${id}.json.tmp-${process.pid}-${(tmpCounter = (tmpCounter + 1) % 1e9)}`);
    try {
      await writeNewDurable(tmp, JSON.stringify(data)).catch(async (err: unknown) => {
        // a leftover of a crashed process that had our pid: another name
        if (errno(err) !== 'EEXIST') throw err;
        tmp = `${tmp}-${Date.now().toString(36)}`;
        await writeNewDurable(tmp, JSON.stringify(data));
      });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      this.#forget(id); // the env file's state is unknown now
      throw err;
    }
    const k = this.#known?.get(id);
    if (k) {
      k.file = data;
      k.envFile = true;
    }
    await this.#syncer.sync(this.#envDir);
  }

  #check(): void {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
  }

  async createMessage(): Promise<MessageDraft> {
    this.#check();
    const id = this.#newId();
    this.messagePath(id); // checks the id
    const path = join(this.#tmpDir, id);
    try {
      const fh = await open(path, 'wx', 0o600);
      return new FsMessageDraft(this, id, fh, path);
    } catch (err) {
      throw storageError(err);
    }
  }

  /** Opens a message file and checks its footer; the caller closes the handle. */
  async #openChecked(id: MessageId): Promise<{ fh: FileHandle; size: number; footer: Footer; tail: Buffer }> {
    const fh = await open(this.messagePath(id), 'r');
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

  async openMessage(id: MessageId): Promise<Readable> {
    const body = this.#known?.get(id)?.body;
    if (body) return Readable.from([body], { objectMode: false });
    const { fh, footer } = await this.#openChecked(id);
    if (footer.bodyLength === 0) {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream({ autoClose: true, start: 0, end: footer.bodyLength - 1, highWaterMark: 64 * 1024 });
  }

  async messageSize(id: MessageId): Promise<number> {
    const k = this.#known?.get(id);
    if (k && k.bodyLength >= 0) return k.bodyLength;
    const { fh, footer } = await this.#openChecked(id);
    await fh.close();
    return footer.bodyLength;
  }

  /** The envelopes in a message file's trailer; undefined when there is no such message. */
  async #readTrailer(id: MessageId): Promise<EnvelopeFile | undefined> {
    let opened;
    try {
      opened = await this.#openChecked(id);
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw err;
    }
    const { fh, size, footer, tail } = opened;
    try {
      const need = footer.trailerLength + footerSize;
      const trailer = need <= tail.length
        ? tail.subarray(tail.length - need, tail.length - footerSize)
        : await readAt(fh, footer.trailerLength, size - need, id);
      if (crc32(trailer) !== footer.trailerCrc) throw new CorruptItem(`${id}: trailer checksum mismatch`);
      return parseEnvelopeFile(trailer.toString('utf8'), id);
    } finally {
      await fh.close();
    }
  }

  /**
   * The current envelopes of a message: its env override, else its trailer; undefined when the
   * message is not in the queue. `override` false skips looking for an env file (a walk knows).
   * Throws CorruptItem for a damaged item.
   */
  async #read(id: MessageId, override = true): Promise<EnvelopeFile | undefined> {
    const known = this.#known?.get(id);
    if (known) return known.file;
    if (override) {
      try {
        const file = parseEnvelopeFile(await readFile(this.#envPath(id), 'utf8'), id);
        this.remember(id, { file, envFile: true, bodyLength: -1 });
        return file;
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    const file = await this.#readTrailer(id);
    // without `override` the caller knows there is no env file (a walk listed env/ after msg/)
    if (file) this.remember(id, { file, envFile: false, bodyLength: -1 });
    return file;
  }

  /** Every envelope of one message (empty when the message is not in the queue). */
  async findMessageEnvelopes(messageId: MessageId): Promise<Envelope[]> {
    if (!idPattern.test(messageId)) return [];
    return (await this.#locks.run(messageId, () => this.#read(messageId)))?.envelopes ?? [];
  }

  async findEnvelope(id: EnvelopeId): Promise<Envelope | undefined> {
    const msg = messageIdOfEnvelope(id);
    if (!msg) return undefined;
    return (await this.#locks.run(msg, () => this.#read(msg)))?.envelopes.find((e) => e.id === id);
  }

  async putEnvelope(env: Envelope): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(env.id);
    if (!msg || msg !== env.messageId) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    await this.#locks.run(msg, async () => {
      try {
        const file = await this.#read(msg);
        const i = file?.envelopes.findIndex((e) => e.id === env.id) ?? -1;
        if (!file || i < 0) throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
        const next = [...file.envelopes];
        next[i] = env;
        await this.#writeEnvelopeFile(msg, next);
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  async deleteEnvelope(id: EnvelopeId): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(id);
    if (!msg) return;
    await this.#locks.run(msg, async () => {
      try {
        const file = await this.#read(msg);
        if (!file) return;
        const rest = file.envelopes.filter((e) => e.id !== id);
        if (rest.length === file.envelopes.length) return;
        if (rest.length > 0) {
          await this.#writeEnvelopeFile(msg, rest);
        } else {
          // the message file goes first: an env file without its message is a leftover nobody
          // reads, while a message file without its env file would bring back the trailer's
          // (delivered) envelopes
          const k = this.#known?.get(msg);
          this.#forget(msg);
          await unlink(this.messagePath(msg));
          if (k?.envFile === false) return;
          await unlink(this.#envPath(msg)).catch((err: unknown) => {
            if (errno(err) !== 'ENOENT') throw err;
          });
        }
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  /** Ids of the queued messages, oldest first. */
  async listMessageIds(): Promise<MessageId[]> {
    return (await readdir(this.#msgDir)).filter((n) => idPattern.test(n)).sort();
  }

  async *walkEnvelopes(): AsyncIterable<Envelope> {
    const ids = await this.listMessageIds();
    // listed after the messages, so an override written before this point is seen
    const overrides = new Set((await readdir(this.#envDir)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    type Loaded = { file: EnvelopeFile | undefined; err?: undefined } | { file?: undefined; err: unknown };
    const load = (id: string): Promise<Loaded> =>
      this.#read(id, overrides.has(id)).then((file) => ({ file }), (err: unknown) => ({ err }));
    // a few messages read ahead: each read is several round trips to libuv's thread pool
    const ahead: Promise<Loaded>[] = [];
    let next = 0;
    while (ahead.length < 8 && next < ids.length) ahead.push(load(ids[next++]));
    for (const id of ids) {
      const got = await ahead.shift()!;
      if (next < ids.length) ahead.push(load(ids[next++]));
      if (got.err !== undefined) {
        if (!(got.err instanceof CorruptItem)) throw storageError(got.err);
        await this.#locks.run(id, () => this.#moveCorrupt(id));
        continue;
      }
      if (got.file) yield* got.file.envelopes;
    }
  }

  async #moveCorrupt(id: string): Promise<string[]> {
    this.#forget(id);
    const moved: string[] = [];
    const stamp = `${Date.now()}`;
    for (const [from, name] of [[this.#envPath(id), `${id}.json`], [join(this.#msgDir, id), id]] as const) {
      try {
        await rename(from, join(this.#corruptDir, `${name}.${stamp}`));
        moved.push(name);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    await this.#syncer.sync(this.#corruptDir);
    return moved;
  }

  /**
   * Removes leftovers (drafts in tmp/, temporary env files, env files whose message is gone) and
   * moves corrupt items (bad footer or trailer, unparsable env file, unknown names in msg/) to
   * corrupt/. Only safe while no other process writes to the spool: open() runs it as owner.
   */
  async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { messages: 0, envelopes: 0, removed: [], corrupted: [] };
    for (const name of await readdir(this.#tmpDir)) {
      await unlink(join(this.#tmpDir, name)).catch(() => undefined);
      report.removed.push(`tmp/${name}`);
    }
    const messages = new Set(await readdir(this.#msgDir));
    const overrides = new Set<string>();
    for (const name of await readdir(this.#envDir)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (name.startsWith('.') || !idPattern.test(id) || !messages.has(id)) {
        await unlink(join(this.#envDir, name)).catch(() => undefined);
        report.removed.push(`env/${name}`);
      } else {
        overrides.add(id);
      }
    }
    for (const name of [...messages].sort()) {
      if (!idPattern.test(name)) {
        await rename(join(this.#msgDir, name), join(this.#corruptDir, `${name}.${Date.now()}`));
        report.corrupted.push(name);
        continue;
      }
      try {
        const file = await this.#read(name, overrides.has(name));
        if (file) {
          report.messages++;
          report.envelopes += file.envelopes.length;
        }
      } catch (err) {
        if (!(err instanceof CorruptItem)) throw err;
        report.corrupted.push(...(await this.#moveCorrupt(name)));
      }
    }
    return report;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const handles = [...this.#dirHandles.values()];
    this.#dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh?.close()).catch(() => undefined)));
    if (this.#owner) await unlink(join(this.dir, 'lock')).catch(() => undefined);
  }
}
