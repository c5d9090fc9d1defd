/**
 * @module fs-queue-store
 * The default spool, under one directory (`<data_dir>/spool`): a small message is a record in
 * an append-only segment, a large one (or one whose envelopes changed) a file of its own, like
 * Postfix's queue files.
 *
 *   tmp/<id>          a draft: the body as it streams in; never a message
 *   seg/<segid>       records of small messages, appended by the server's delivering instance
 *                     (segment-log.ts; a caching owner); seg/<segid>.done lists delivered ones
 *   msg/<id>          a committed message (spool format 2, below); renaming into msg/ commits
 *   env/<id>.json     envelope override: written once the envelopes change after commit
 *                     (putEnvelope, deleteEnvelope while others remain); replaces the trailer's
 *   corrupt/          items found damaged, moved aside for the operator, never deleted
 *   format            "correio-spool 3": the layout (3 = format 2's files plus seg/; a format-2
 *                     spool is read as it is and its format file rewritten)
 *   lock              pid of the process that owns recovery
 *
 * A message file (format 2) is the body, then a trailer, then a 32-octet footer:
 *
 *   [0, B)            the body (CRLF, not dot-stuffed)
 *   [B, B+T)          the trailer: {"v":1,"messageId":…,"envelopes":[…]} as JSON (UTF-8)
 *   [B+T, B+T+32)     the footer: "CRQSPOOL", u32 format (2), u64 B, u32 T, u32 CRC-32 of the
 *                     trailer, u32 CRC-32 of the footer's first 28 octets (all big-endian)
 *
 * Segments: in a caching owner (the server's delivering instance; with `[delivery] worker = true`
 * no instance is both, so every message gets its own file), a body that stays within 64 KB never
 * touches tmp/: commit appends header + body + envelopes to the active segment and waits for a
 * shared fdatasync. When such a
 * message's envelopes change (putEnvelope, deleteEnvelope while others remain) it moves to its own
 * msg/<id> file first (written, synced, renamed), then its record is marked done; recovery lets a
 * msg/<id> file win over a record of the same id (the done line was lost). A segment whose records
 * are all done (and that is no longer appended to) is removed. Every instance reads segments.
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
 *   so a crash leaves the old state (trailer or previous override) plus a temporary: removed;
 * - a segment whose last records were written but not yet synced: the first record that does not
 *   check out ends the segment; the rest (never acknowledged) is copied to corrupt/ and cut off.
 *   (A record damaged later, on a bad block, ends it the same way: what follows it goes to
 *   corrupt/ with it, for the operator; see segment-log.ts.)
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
import { closeSync, ftruncateSync, openSync, writeFile as writeFileCb, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  MailError, replies,
  type Envelope, type EnvelopeId, type EnvelopeInit, type MessageDraft, type MessageId, type QueueStore,
} from '../core/index.js';
import { DirSyncer, KeyedMutex, atomicWriteFile, dirSyncUnsupported, uniqueId, writeAll } from '../util/index.js';
import { storageError } from './storage-error.js';
import { envelopeIdOf, messageIdOfEnvelope } from './queue-ids.js';
import {
  SegmentWriter, readDoneLog, readRecordBody, recordHeader, recordHeaderSize, scanSegment, type SegmentRecord,
} from './segment-log.js';

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
   * be seen. Default false. A caching owner (the server's delivering instance) also commits
   * small messages (body within 64 KB) as records in a segment (segment-log.ts) instead of one
   * file each; every instance reads segments.
   */
  cache?: boolean;
  /** octets after which a segment takes no more records (default 64 MB; small in tests) */
  segmentLimit?: number;
}

/** Where a message held in a segment is. */
interface SegRef extends SegmentRecord {
  seg: string;
}

/** A whole record of a segment, as #loadSegments needs it. */
interface ScannedRec {
  id: MessageId;
  ref: SegRef;
  envelopes: number;
  /** the envelopes themselves, at recovery only */
  file?: EnvelopeFile;
}

/** What an instance knows of the segments: where each live record is, live records per segment. */
interface SegState {
  index: Map<MessageId, SegRef>;
  live: Map<string, number>;
}

/** a segment is closed for appends past this size (and removed once all its records are done) */
const defaultSegmentLimit = 64 * 1024 * 1024;
const segPattern = /^[0-9a-z]{1,64}$/;

/** What a caching store knows about a message without reading its files. */
interface Known {
  file: EnvelopeFile;
  /** env/<id>.json exists (the trailer's envelopes are overridden) */
  envFile: boolean;
  /** the body's length, when known */
  bodyLength?: number;
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
/** the layout named in the `format` file: 3 adds seg/ to format 2's files (read both) */
const spoolLayout = 3;
const formatText = `correio-spool ${spoolLayout}\n`;
const formatTextV2 = `correio-spool 2\n`;
const footerMagic = Buffer.from('CRQSPOOL', 'latin1');
const footerSize = 32;
/** octets read from the end of a message file at once: footer and (usually) the whole trailer */
const tailRead = 16 * 1024;
/** body octets a draft holds in memory before it streams them to its file */
const holdLimit = 64 * 1024;

const idPattern = /^[0-9a-z]{1,64}$/;

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

/** A segment record's envelope list (the id comes from the list itself). */
function parseTrailerJson(text: string): EnvelopeFile {
  const id = (JSON.parse(text) as Partial<EnvelopeFile> | null)?.messageId;
  if (typeof id !== 'string' || !idPattern.test(id)) throw new CorruptItem('a segment record without a message id');
  return parseEnvelopeFile(text, id);
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

/** Writes a file and fsyncs it: fs.writeFile's open, write, fsync (flush) and close, on plain
 * descriptors. `flag` 'wx' (default) never replaces a file. */
function writeDurable(path: string, data: string | Buffer, flag: 'wx' | 'w' = 'wx'): Promise<void> {
  return new Promise((resolve, reject) => {
    writeFileCb(path, data, { flag, mode: 0o600, flush: true }, (err) => (err ? reject(err) : resolve()));
  });
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
  /** made on first use: a message given whole to commit() never needs a stream */
  #body: Writable | undefined;
  readonly #store: FsQueueStore;
  /** the draft's file in tmp/: opened at once, or (segment drafts) only when the body spills */
  #fh: FileHandle | undefined;
  readonly #path: string;
  readonly #segmented: boolean;
  #size = 0;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  #closed = false;

  /** the body's first octets, held until they pass `holdLimit` or until commit */
  #held: Buffer[] = [];
  #heldSize = 0;
  #spilled = false;

  constructor(store: FsQueueStore, id: MessageId, fh: FileHandle | undefined, path: string) {
    this.#store = store;
    this.id = id;
    this.#fh = fh;
    this.#segmented = fh === undefined;
    this.#path = path;
  }

  get body(): Writable {
    this.#body ??= this.#makeBody();
    return this.#body;
  }

  #makeBody(): Writable {
    // A small body (most mail) is written with its trailer and footer in one write at commit:
    // one thread-pool round trip less per message. Past holdLimit it streams to the file.
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
    if (this.#state !== 'open' || (whole && this.#body)) throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    if (inits.length === 0) throw new MailError(replies.noValidRecipients(), 'MAIL_ERR_NO_RECIPIENTS');
    this.#state = 'committing';
    let renamed = false;
    const target = this.#store.messagePath(this.id);
    try {
      if (whole) {
        this.#held = [...whole];
        this.#heldSize = this.#size = whole.reduce((n, b) => n + b.length, 0);
        // a large message goes to its own file, as a streamed one past holdLimit does
        this.#spilled = this.#size > holdLimit;
      } else await finished(this.body);
      const envelopes: Envelope[] = inits.map((init, i) => ({
        ...init,
        id: envelopeIdOf(this.id, i),
        messageId: this.id,
        size: this.#size,
        attempts: init.attempts ?? [],
      }));
      const file: EnvelopeFile = { v: 1, messageId: this.id, envelopes };
      const trailer = Buffer.from(JSON.stringify(file));
      // trailer and footer in one write after the body; one fdatasync makes all of it durable
      // (fdatasync covers the file size, which is what retrieving the data needs: POSIX)
      const held = this.#spilled ? undefined : this.#held;
      if (held && this.#segmented) {
        // a small message: one record in this instance's segment, durable by a shared fdatasync
        this.#held = [];
        await this.#store.appendRecord(this.id, held, this.#size, trailer, file);
        this.#closed = true;
        this.#state = 'committed';
        return envelopes;
      }
      const fh = await this.#file();
      // the file was only ever appended to (writeAll at its own position): this continues it
      await writeAll(fh, [...this.#held, trailer, makeFooter(this.#size, trailer)]);
      this.#held = [];
      await fh.datasync();
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
    if (this.#body && !this.#body.destroyed) this.#body.destroy();
    const hadFile = this.#fh !== undefined;
    await this.#close().catch(() => undefined);
    if (hadFile) await unlink(this.#path).catch(() => undefined);
  }
}

export class FsQueueStore implements QueueStore {
  readonly dir: string;
  readonly #tmpDir: string;
  readonly #msgDir: string;
  readonly #envDir: string;
  readonly #corruptDir: string;
  readonly #segDir: string;
  /** segments: loaded at recovery, else at first use (readers reload for each walk) */
  #seg: SegState | undefined;
  /** whether new small messages go to a segment (a caching owner) */
  #segmentsOn = false;
  #writer: SegmentWriter | undefined;
  #writerSeg = '';
  /** resolves once the active segment's directory entry is durable */
  #writerReady: Promise<void> = Promise.resolve();
  /** what a reader last scanned of each segment (a segment only grows while its writer runs) */
  readonly #scans = new Map<string, { size: number; recs: ScannedRec[] }>();
  /** done logs opened for appending, by segment */
  readonly #doneFds = new Map<string, number>();
  /** directory handles kept open for fsync, by path */
  readonly #dirHandles = new Map<string, Promise<FileHandle | undefined>>();
  readonly #syncer = new DirSyncer((dir) => this.#fsyncDir(dir));
  readonly #locks = new KeyedMutex();
  readonly #newId: () => string;
  readonly #segmentLimit: number;
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
    this.#segDir = join(dir, 'seg');
    this.#newId = opts.newId ?? (() => uniqueId());
    this.#known = opts.cache ? new Map() : undefined;
    this.#segmentLimit = opts.segmentLimit ?? defaultSegmentLimit;
  }

  /** @internal records what a caching store now knows of a message (body: the held chunks) */
  remember(id: MessageId, k: Known, body?: Buffer[]): void {
    const known = this.#known;
    if (!known) return;
    this.#forget(id);
    const length = body?.reduce((n, b) => n + b.length, 0) ?? 0;
    if (body && length <= holdLimit && this.#knownBodyBytes + length <= knownBodyBudget) {
      k.body = body.length === 1 ? body[0] : Buffer.concat(body, length);
      this.#knownBodyBytes += length;
    }
    known.set(id, k);
    if (known.size > knownLimit) this.#forget(known.keys().next().value!);
  }

  #forget(id: MessageId): void {
    const k = this.#known?.get(id);
    if (!k) return;
    if (k.body) this.#knownBodyBytes -= k.body.length;
    this.#known!.delete(id);
  }

  /**
   * Opens (creating if needed) the spool in `dir` and recovers it (see FsQueueStoreOptions.recover).
   * Rejects a spool of another format (see the module header) with an Error naming it.
   */
  static async open(dir: string, opts: FsQueueStoreOptions = {}): Promise<FsQueueStore> {
    const store = new FsQueueStore(dir, opts);
    for (const d of [dir, store.#tmpDir, store.#msgDir, store.#envDir, store.#corruptDir, store.#segDir]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
    }
    await store.#checkFormat();
    store.#owner = opts.lock === false ? false : await store.#takeLock();
    store.#segmentsOn = store.#owner && opts.cache === true;
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
            `this correio reads spool formats 2 and ${spoolLayout} only: deliver that queue with the older version, or move the spool away`,
        );
      }
      // durable before any message is committed: a spool with messages and no format file is refused
      await atomicWriteFile(path, formatText);
      return;
    }
    if (text === formatTextV2) {
      // format 2 is format 3 without segments: name the new layout before any segment is written
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
      await writeDurable(tmp, JSON.stringify(data)).catch(async (err: unknown) => {
        // a leftover of a crashed process that had our pid: another name
        if (errno(err) !== 'EEXIST') throw err;
        tmp = `${tmp}-${Date.now().toString(36)}`;
        await writeDurable(tmp, JSON.stringify(data));
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
    // a segment draft makes its tmp/ file only if the body outgrows memory
    if (this.#segmentsOn) return new FsMessageDraft(this, id, undefined, path);
    try {
      const fh = await open(path, 'wx', 0o600);
      return new FsMessageDraft(this, id, fh, path);
    } catch (err) {
      throw storageError(err);
    }
  }

  // ---- segments (segment-log.ts)

  /**
   * @internal for drafts: appends a small message as a record to this instance's segment and
   * resolves once it is durable. A record whose sync failed is marked done at once (its client
   * is told to retry; the record must not come back as a second copy).
   */
  async appendRecord(id: MessageId, body: Buffer[], bodyLength: number, trailer: Buffer, file: EnvelopeFile): Promise<void> {
    this.#check();
    const seg = await this.#segState();
    const { writer, segId } = await this.#activeWriter();
    let offset: number;
    try {
      offset = writer.append([recordHeader(body, bodyLength, trailer), ...body, trailer]);
    } catch (err) {
      // (disk full, I/O error) the next commit starts a new segment; an empty one is removed
      if (this.#writer === writer) this.#retireWriter();
      throw err;
    }
    // counted live from the write on, so the segment is not removed while this record syncs
    seg.live.set(segId, (seg.live.get(segId) ?? 0) + 1);
    try {
      await writer.sync();
    } catch (err) {
      seg.live.set(segId, (seg.live.get(segId) ?? 1) - 1);
      this.#appendDone(segId, id);
      // after a failed fsync the file's state is unknown: the next commit starts a new segment
      if (this.#writer === writer) this.#retireWriter();
      throw err;
    }
    seg.index.set(id, { seg: segId, offset, bodyLength, trailerLength: trailer.length });
    this.remember(id, { file, envFile: false, bodyLength }, body);
  }

  async #activeWriter(): Promise<{ writer: SegmentWriter; segId: string }> {
    let writer = this.#writer;
    let segId = this.#writerSeg;
    if (!writer || writer.size >= this.#segmentLimit) {
      if (writer) this.#retireWriter();
      segId = this.#newId();
      writer = SegmentWriter.create(join(this.#segDir, segId));
      this.#writer = writer;
      this.#writerSeg = segId;
      (this.#seg as SegState).live.set(segId, 0);
      // the segment's directory entry is durable before any record in it is acknowledged
      this.#writerReady = this.#syncer.sync(this.#segDir);
    }
    const ready = this.#writerReady;
    try {
      await ready;
    } catch (err) {
      if (this.#writer === writer) this.#retireWriter();
      throw err;
    }
    return { writer, segId };
  }

  /** Stops appending to the active segment; removes it if nothing in it is queued. */
  #retireWriter(): void {
    const writer = this.#writer;
    const segId = this.#writerSeg;
    if (!writer) return;
    this.#writer = undefined;
    this.#writerSeg = '';
    void writer.close().then(() => {
      if ((this.#seg?.live.get(segId) ?? 0) === 0) return this.#removeSegment(segId);
    }).catch(() => undefined);
  }

  async #removeSegment(segId: string): Promise<void> {
    this.#seg?.live.delete(segId);
    this.#scans.delete(segId);
    const fd = this.#doneFds.get(segId);
    if (fd !== undefined) {
      this.#doneFds.delete(segId);
      try {
        closeSync(fd);
      } catch {
        // gone already
      }
    }
    await unlink(join(this.#segDir, segId)).catch(() => undefined);
    await unlink(join(this.#segDir, `${segId}.done`)).catch(() => undefined);
  }

  /** Records that a segment's record left the queue (a line in its done log; not synced). */
  #appendDone(segId: string, id: MessageId): void {
    let fd = this.#doneFds.get(segId);
    if (fd === undefined) {
      fd = openSync(join(this.#segDir, `${segId}.done`), 'a', 0o600);
      this.#doneFds.set(segId, fd);
    }
    const line = Buffer.from(`${id}\n`, 'latin1');
    const n = writeSync(fd, line);
    if (n !== line.length) throw new Error(`${segId}.done: short write`);
  }

  /** A segment message left the queue (delivered, or moved to its own file). */
  async #segDone(id: MessageId, ref: SegRef, seg: SegState): Promise<void> {
    this.#appendDone(ref.seg, id);
    seg.index.delete(id);
    const left = (seg.live.get(ref.seg) ?? 1) - 1;
    seg.live.set(ref.seg, left);
    if (left <= 0 && ref.seg !== this.#writerSeg) await this.#removeSegment(ref.seg);
  }

  /** The segment record of `id`, if the message lives in a segment. */
  async #segRef(id: MessageId, snapshot?: SegState): Promise<SegRef | undefined> {
    return (snapshot ?? (await this.#segState())).index.get(id);
  }

  /**
   * The segment index. The instance that changes committed messages (a caching one: the
   * appending owner, or the delivery worker of `[delivery] worker = true`) loads it once and
   * keeps it up to date itself; any other instance looks again each time (another process may
   * have delivered or moved a record since), cheaply: a segment is rescanned only when it has
   * grown.
   */
  async #segState(): Promise<SegState> {
    if (this.#segmentsOn || this.#known) {
      this.#seg ??= (await this.#loadSegments(false)).state;
      return this.#seg;
    }
    this.#seg = (await this.#loadSegments(false)).state;
    return this.#seg;
  }

  /**
   * Reads every segment: the live records (not in the done log, not moved to msg/). With `repair`
   * (recovery) it also marks moved records done, cuts a damaged tail off (a copy goes to
   * corrupt/), and removes segments with nothing live and done logs without a segment.
   */
  async #loadSegments(repair: boolean): Promise<{ state: SegState; report: RecoveryReport }> {
    const report: RecoveryReport = { messages: 0, envelopes: 0, removed: [], corrupted: [] };
    const state: SegState = { index: new Map(), live: new Map() };
    const names = await readdir(this.#segDir);
    const segs = names.filter((n) => segPattern.test(n)).sort();
    const files = new Set(segs.length > 0 ? await readdir(this.#msgDir) : []);
    const segSet = new Set(segs);
    for (const n of names) {
      if (n.endsWith('.done') && segSet.has(n.slice(0, -5))) continue;
      if (segSet.has(n)) continue;
      if (repair) {
        await unlink(join(this.#segDir, n)).catch(() => undefined);
        report.removed.push(`seg/${n}`);
      }
    }
    for (const segId of segs) {
      if (segId === this.#writerSeg) continue; // our own, live in this.#seg
      const path = join(this.#segDir, segId);
      const done = new Set((await readDoneLog(`${path}.done`)).filter((l) => idPattern.test(l)));
      const recs = await this.#segRecords(segId, repair, report);
      if (!recs) continue; // removed meanwhile: all done
      let live = 0;
      for (const { id, ref, envelopes, file } of recs) {
        if (done.has(id) || state.index.has(id)) continue;
        if (files.has(id)) {
          // moved to its own file; at recovery: the done line was lost in the crash
          if (repair) this.#appendDone(segId, id);
          continue;
        }
        state.index.set(id, ref);
        if (file) this.remember(id, { file, envFile: false, bodyLength: ref.bodyLength });
        report.messages++;
        report.envelopes += envelopes;
        live++;
      }
      state.live.set(segId, live);
      if (repair && live === 0) {
        await this.#removeSegment(segId);
        state.live.delete(segId);
      }
    }
    if (this.#writer && this.#seg) {
      // keep what this instance appended itself
      for (const [id, ref] of this.#seg.index) if (ref.seg === this.#writerSeg) state.index.set(id, ref);
      state.live.set(this.#writerSeg, this.#seg.live.get(this.#writerSeg) ?? 0);
    }
    return { state, report };
  }

  /**
   * The whole records of one segment. A reader rescans a segment only when it has grown since
   * its last look (undefined: the segment is gone). With `repair` (recovery) a damaged tail is
   * copied to corrupt/ and cut off, and the parsed envelopes come along (to warm the cache).
   */
  async #segRecords(segId: string, repair: boolean, report: RecoveryReport): Promise<ScannedRec[] | undefined> {
    const path = join(this.#segDir, segId);
    let size: number | undefined;
    if (!repair) {
      try {
        size = (await stat(path)).size;
      } catch (err) {
        if (errno(err) === 'ENOENT') {
          this.#scans.delete(segId);
          return undefined;
        }
        throw err;
      }
      const cached = this.#scans.get(segId);
      if (cached?.size === size) return cached.recs;
    }
    const scan = await scanSegment(path);
    if (scan.problem !== undefined && repair) {
      // never acknowledged (a crash during a commit) or damaged: kept for the operator, cut off
      const aside = join(this.#corruptDir, `${segId}.tail.${scan.validEnd}.${Date.now()}`);
      const fh = await open(path, 'r');
      try {
        const rest = Buffer.alloc(scan.fileSize - scan.validEnd);
        await fh.read(rest, 0, rest.length, scan.validEnd);
        await writeFile(aside, rest, { mode: 0o600 });
      } finally {
        await fh.close();
      }
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, scan.validEnd);
      } finally {
        closeSync(fd);
      }
      report.corrupted.push(`seg/${segId}: ${scan.problem} at ${scan.validEnd}`);
    }
    const recs: ScannedRec[] = [];
    for (const rec of scan.records) {
      let file: EnvelopeFile;
      try {
        file = parseTrailerJson(rec.trailer.toString('utf8'));
      } catch {
        // a reader leaves it for the owner's recovery to report
        if (repair) report.corrupted.push(`seg/${segId}@${rec.offset}: envelopes that do not parse`);
        continue;
      }
      const ref = { seg: segId, offset: rec.offset, bodyLength: rec.bodyLength, trailerLength: rec.trailerLength };
      recs.push({ id: file.messageId, ref, envelopes: file.envelopes.length, ...(repair && { file }) });
    }
    if (size !== undefined) this.#scans.set(segId, { size, recs });
    return recs;
  }

  async #readSegTrailer(id: MessageId, ref: SegRef): Promise<EnvelopeFile> {
    const fh = await open(join(this.#segDir, ref.seg), 'r');
    try {
      const buf = await readAt(fh, ref.trailerLength, ref.offset + recordHeaderSize + ref.bodyLength, id);
      return parseEnvelopeFile(buf.toString('utf8'), id);
    } finally {
      await fh.close();
    }
  }

  /**
   * Moves a segment message to its own file (format 2) with new envelopes: its envelopes change
   * (a retry, a hold, some recipients done), so it leaves the segment, which can then be removed
   * once its other records are delivered.
   */
  async #promote(id: MessageId, ref: SegRef, envelopes: Envelope[], seg: SegState): Promise<void> {
    const known = this.#known?.get(id);
    const body = known?.body ?? (await readRecordBody(join(this.#segDir, ref.seg), ref));
    const file: EnvelopeFile = { v: 1, messageId: id, envelopes };
    const trailer = Buffer.from(JSON.stringify(file));
    const tmp = join(this.#tmpDir, `${id}.moved`);
    await writeDurable(tmp, Buffer.concat([body, trailer, makeFooter(body.length, trailer)]), 'w');
    await rename(tmp, this.messagePath(id));
    await this.#syncer.sync(this.#msgDir);
    await this.#segDone(id, ref, seg);
    this.remember(id, { file, envFile: false, bodyLength: body.length }, [body]);
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
    const ref = await this.#segRef(id);
    if (ref) return Readable.from([await readRecordBody(join(this.#segDir, ref.seg), ref)], { objectMode: false });
    const { fh, footer } = await this.#openChecked(id);
    if (footer.bodyLength === 0) {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream({ autoClose: true, start: 0, end: footer.bodyLength - 1, highWaterMark: 64 * 1024 });
  }

  async messageSize(id: MessageId): Promise<number> {
    const k = this.#known?.get(id);
    if (k?.bodyLength !== undefined) return k.bodyLength;
    const ref = await this.#segRef(id);
    if (ref) return ref.bodyLength;
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
  async #read(id: MessageId, override = true, snapshot?: SegState): Promise<EnvelopeFile | undefined> {
    const known = this.#known?.get(id);
    if (known) return known.file;
    const ref = await this.#segRef(id, snapshot);
    if (ref) {
      const file = await this.#readSegTrailer(id, ref);
      this.remember(id, { file, envFile: false, bodyLength: ref.bodyLength });
      return file;
    }
    if (override) {
      try {
        const file = parseEnvelopeFile(await readFile(this.#envPath(id), 'utf8'), id);
        this.remember(id, { file, envFile: true });
        return file;
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
    }
    const file = await this.#readTrailer(id);
    // without `override` the caller knows there is no env file (a walk listed env/ after msg/)
    if (file) this.remember(id, { file, envFile: false });
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
        const seg = await this.#segState();
        const file = await this.#read(msg, true, seg);
        const i = file?.envelopes.findIndex((e) => e.id === env.id) ?? -1;
        if (!file || i < 0) throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
        const next = [...file.envelopes];
        next[i] = env;
        const ref = seg.index.get(msg);
        if (ref) await this.#promote(msg, ref, next, seg);
        else await this.#writeEnvelopeFile(msg, next);
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
        const seg = await this.#segState();
        const file = await this.#read(msg, true, seg);
        if (!file) return;
        const rest = file.envelopes.filter((e) => e.id !== id);
        if (rest.length === file.envelopes.length) return;
        const ref = seg.index.get(msg);
        if (ref) {
          if (rest.length > 0) {
            await this.#promote(msg, ref, rest, seg);
          } else {
            this.#forget(msg);
            await this.#segDone(msg, ref, seg);
          }
        } else if (rest.length > 0) {
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
    return (await this.#list()).ids;
  }

  async #list(): Promise<{ ids: MessageId[]; seg: SegState }> {
    const seg = await this.#segState();
    const files = (await readdir(this.#msgDir)).filter((n) => idPattern.test(n) && !seg.index.has(n));
    return { ids: [...files, ...seg.index.keys()].sort(), seg };
  }

  async *walkEnvelopes(): AsyncIterable<Envelope> {
    const { ids, seg } = await this.#list();
    // listed after the messages, so an override written before this point is seen
    const overrides = new Set((await readdir(this.#envDir)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    type Loaded = { file: EnvelopeFile | undefined; err?: undefined } | { file?: undefined; err: unknown };
    const load = (id: string): Promise<Loaded> =>
      this.#read(id, overrides.has(id), seg).then((file) => ({ file }), (err: unknown) => ({ err }));
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
    const segs = await this.#loadSegments(true);
    this.#seg = segs.state;
    report.messages += segs.report.messages;
    report.envelopes += segs.report.envelopes;
    report.removed.push(...segs.report.removed);
    report.corrupted.push(...segs.report.corrupted);
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
    const writer = this.#writer;
    const writerSeg = this.#writerSeg;
    this.#writer = undefined;
    this.#writerSeg = '';
    if (writer) {
      await writer.close();
      if ((this.#seg?.live.get(writerSeg) ?? 0) === 0) await this.#removeSegment(writerSeg);
    }
    for (const fd of this.#doneFds.values()) {
      try {
        closeSync(fd);
      } catch {
        // gone already
      }
    }
    this.#doneFds.clear();
    const handles = [...this.#dirHandles.values()];
    this.#dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh?.close()).catch(() => undefined)));
    if (this.#owner) await unlink(join(this.dir, 'lock')).catch(() => undefined);
  }
}
