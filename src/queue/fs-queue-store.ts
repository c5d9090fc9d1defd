/**
 * @module fs-queue-store
 * The default spool, under one directory (`<data_dir>/spool`; layout in spool-layout.ts): a
 * small message is a record in an append-only segment, a large one (or one whose envelopes
 * changed) a file of its own, like Postfix's queue files. This class puts the parts together
 * and serializes changes per message; each part is one concept in its own file:
 *
 *   spool-layout.ts      directories, the `format` file       spool-lock.ts      the `lock` file
 *   spool-format.ts      message file, trailer and footer     queue-ids.ts       message/envelope ids
 *   message-files.ts     msg/<id> and env/<id>.json           segment-log.ts     segment records
 *   segment-messages.ts  which messages live in segments      message-cache.ts   cache strategies
 *   spool-scan.ts        a walk in no order, msg/ streamed
 *   fs-message-draft.ts  a draft until commit                 spool-recovery.ts  start-up repair
 *   file-commit.ts, segment-commit.ts   the two commit strategies
 *   dir-handles.ts       directory fsyncs through handles kept open (shared by util's DirSyncer)
 *
 * Two choices are made once, at open, from `cache` and the lock (see docs/design-changes.md):
 * - commit strategy: a caching owner (the server's delivering instance) commits a body within
 *   64 KB as a segment record (SegmentCommit: group commit, the accept path's speed); every
 *   other instance, and any larger body, gets one file per message (FileCommit).
 * - cache strategy: the caching instance remembers envelopes and small bodies
 *   (BoundedMessageCache); every other one reads from disk each time (NoMessageCache).
 * Reading does not depend on either: a message is found in the cache, else in a segment, else
 * as msg/<id> (with its env override, which wins over the trailer). When a segment message's
 * envelopes change it moves to its own file first (written, synced, renamed), then its record
 * is marked done.
 * Standards: RFC 5321 §6.1 (a message is accepted only once safely stored); seed §2 (spool).
 * Security: ids are checked against a strict alphabet before they become paths; files are 0600;
 *   lengths in a footer or record are checked against the file's size and a CRC before use.
 * Limitations: envelope updates are serialized per message inside one process only; two
 *   processes may commit new messages concurrently, but only one (the owner of `lock`) should
 *   run deliveries. A deletion lost in a power failure causes a duplicate delivery, never a loss
 *   (deleting the last envelope does not fsync the directory; if the env file's unlink reached
 *   the disk and the message file's did not, the trailer's envelopes come back). A walk that
 *   runs while envelopes change may see an envelope's previous state.
 */
import { Readable } from 'node:stream';
import {
  MailError, replies,
  type Envelope, type EnvelopeId, type MessageDraft, type MessageId, type QueueStore, type ScheduleEntry,
} from '../core/index.js';
import { DirSyncer, KeyedMutex, uniqueId } from '../util/index.js';
import { DirHandles } from './dir-handles.js';
import { FileCommit } from './file-commit.js';
import type { FsQueueStoreOptions } from './fs-queue-options.js';
import { FsMessageDraft, type CommitStrategy } from './fs-message-draft.js';
import { BoundedMessageCache, NoMessageCache, type KnownMessage, type MessageCache } from './message-cache.js';
import { MessageFiles } from './message-files.js';
import { firstIdsAfter, idsAfter, isImport, isQueueId, messageIdOfEnvelope } from './queue-ids.js';
import { SegmentCommit } from './segment-commit.js';
import { SegmentMessages, type SegRef, type SegState } from './segment-messages.js';
import { CorruptItem, envelopeFile, type EnvelopeFile } from './spool-format.js';
import { SpoolPaths } from './spool-layout.js';
import { releaseSpoolLock, takeSpoolLock } from './spool-lock.js';
import { moveToCorrupt, recoverBeforeServing, recoverListed, recoverSpool, type RecoveryReport, type RecoverySubject } from './spool-recovery.js';
import { dropSchedule, takeSchedule, writeSchedule } from './schedule-checkpoint.js';
import { errorCode, storageError } from './storage-error.js';
import { watchMessageDir } from './spool-watch.js';
import { overrideFilter, readAhead, scanIds } from './spool-scan.js';

export { spoolFormat } from './spool-format.js';
export type { FsQueueStoreOptions } from './fs-queue-options.js';
export type { RecoveryReport } from './spool-recovery.js';

/** a segment is closed for appends past this size (and removed once all its records are done) */
const defaultSegmentLimit = 64 * 1024 * 1024;

export class FsQueueStore implements QueueStore {
  readonly dir: string;
  readonly #paths: SpoolPaths;
  readonly #dirHandles = new DirHandles();
  readonly #syncer = new DirSyncer((dir) => this.#dirHandles.sync(dir));
  readonly #cache: MessageCache;
  readonly #files: MessageFiles;
  readonly #segments: SegmentMessages;
  readonly #commit: CommitStrategy;
  readonly #locks = new KeyedMutex();
  readonly #newId: () => string;
  readonly #owner: boolean;
  /** (an instance that does not cache) the saved schedule removed before its first change */
  #scheduleDropped: Promise<void> | undefined;
  #closed = false;

  /** What the recovery at open() found, when it ran (with `recoverLater`, added to until `recovered` resolves). */
  lastRecovery: RecoveryReport | undefined;
  /** (`recoverLater`) the recovery's part that runs after open(), once recoverRest() started it: resolves with the whole report */
  recovered: Promise<RecoveryReport> | undefined;
  /** (`recoverLater`) the part after open() waits for recoverRest() */
  #restPending = false;

  private constructor(paths: SpoolPaths, owner: boolean, opts: FsQueueStoreOptions) {
    this.dir = paths.dir;
    this.#paths = paths;
    this.#owner = owner;
    this.#newId = opts.newId ?? (() => uniqueId());
    this.#cache = opts.cache ? new BoundedMessageCache() : new NoMessageCache();
    this.#files = new MessageFiles(paths, this.#syncer);
    const appends = (owner && opts.cache === true) || opts.acceptor === true;
    this.#segments = new SegmentMessages(paths, this.#syncer, this.#cache, {
      appends,
      acceptor: opts.acceptor === true,
      ...(opts.segmentPid !== undefined && { pid: opts.segmentPid }),
      keepsIndex: appends || this.#cache.remembers,
      segmentLimit: opts.segmentLimit ?? defaultSegmentLimit,
      newId: this.#newId,
    });
    const files = new FileCommit(paths, this.#syncer, this.#cache);
    this.#commit = appends ? new SegmentCommit(this.#segments, this.#cache, files) : files;
  }

  /**
   * Opens (creating if needed) the spool in `dir` and recovers it (see FsQueueStoreOptions.recover).
   * Rejects a spool of another format (see spool-layout.ts) with an Error naming it.
   */
  static async open(dir: string, opts: FsQueueStoreOptions = {}): Promise<FsQueueStore> {
    const paths = new SpoolPaths(dir);
    await paths.make();
    await paths.checkFormat();
    const acceptor = opts.acceptor === true;
    const owner = opts.lock === false || acceptor ? false : await takeSpoolLock(dir);
    const store = new FsQueueStore(paths, owner, acceptor ? { ...opts, cache: false } : opts);
    const mode = opts.recover ?? 'auto';
    if (!acceptor && (mode === 'always' || (mode === 'auto' && owner))) {
      if (opts.recoverLater !== true) store.lastRecovery = await store.recover();
      else {
        // what must be done before accepting; the listings of msg/ and env/ after (spool-recovery.ts)
        store.lastRecovery = await recoverBeforeServing(store.#recoverySubject());
        store.#restPending = true;
      }
    }
    return store;
  }

  /** (The delivering instance) takes in what acceptor processes appended since its last look. */
  refresh(): Promise<void> {
    return this.#segments.refresh();
  }

  /** (An acceptor) where message `id`'s record went, and its body (once; undefined for a message in its own file). */
  placeOf(id: MessageId): { ref: SegRef; body: Buffer } | undefined {
    return this.#segments.takePlace(id);
  }

  /**
   * (The delivering instance) an acceptor's notice with the record's place: taken in without a
   * scan and its envelopes remembered (and its body, when the notice carried it and it has the
   * record's length), so its delivery reads no file, or only the body; false when a scan has
   * been past it or it is known (then it needs nothing more).
   */
  async adopt(id: MessageId, ref: SegRef, envelopes: readonly Envelope[], body?: Buffer): Promise<boolean> {
    if (!isQueueId(id) || envelopes.some((e) => e.messageId !== id)) return false;
    if (!(await this.#segments.adopt(id, ref))) return false;
    const whole = body !== undefined && body.length === ref.bodyLength ? [body] : undefined;
    this.#cache.remember(id, { file: envelopeFile(id, envelopes), envFile: false, bodyLength: ref.bodyLength }, whole);
    return true;
  }

  /** Whether this instance owns the spool (took `lock`): the one that should run deliveries. */
  get owner(): boolean {
    return this.#owner;
  }

  #check(): void {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
  }

  async createMessage(): Promise<MessageDraft> {
    this.#check();
    const id = this.#newId();
    this.#paths.message(id); // checks the id
    return FsMessageDraft.create(this.#commit, id, this.#paths.draft(id));
  }

  /**
   * Stores a message copied from another backend (`correio migrate --to file:`) under its own
   * id with its envelopes as they are; false (nothing written) when the message is here already.
   */
  async importMessage(id: MessageId, body: Buffer, envelopes: readonly Envelope[]): Promise<boolean> {
    this.#check();
    if (envelopes.length === 0 || !isImport(id, envelopes)) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    return this.#locks.run(id, async () => {
      if ((await this.#read(id)) !== undefined) return false;
      const draft = await FsMessageDraft.create(this.#commit, id, this.#paths.draft(id));
      await draft.commitCopy(envelopes, body);
      return true;
    });
  }

  /** How many of `ids` are stored here, and how many envelopes they have (a migration's check). */
  async countMessages(ids: readonly MessageId[]): Promise<{ messages: number; envelopes: number }> {
    let messages = 0;
    let envelopes = 0;
    for (const id of ids) {
      const n = (await this.findMessageEnvelopes(id)).length;
      if (n > 0) messages++;
      envelopes += n;
    }
    return { messages, envelopes };
  }

  async openMessage(id: MessageId): Promise<Readable> {
    const body = this.#cache.get(id)?.body;
    if (body) return Readable.from([body], { objectMode: false });
    const ref = await this.#segments.find(id);
    if (ref) return Readable.from([await this.#segments.readBody(ref)], { objectMode: false });
    return this.#files.openBody(id);
  }

  async messageSize(id: MessageId): Promise<number> {
    const k = this.#cache.get(id);
    if (k?.bodyLength !== undefined) return k.bodyLength;
    const ref = await this.#segments.find(id);
    if (ref) return ref.bodyLength;
    return this.#files.bodyLength(id);
  }

  /**
   * The current envelopes of a message: cached, else its segment record, else its env override,
   * else its trailer (an instance that does not cache: its file before its record); undefined
   * when the message is not in the queue. `override` false skips
   * looking for an env file (a walk knows). Throws CorruptItem for a damaged item.
   */
  async #read(id: MessageId, override = true, snapshot?: SegState, scan = false): Promise<EnvelopeFile | undefined> {
    const known = this.#cache.get(id);
    if (known) return known.file;
    // a scan's reads are remembered only while there is room (scanEnvelopes)
    const remember = (k: KnownMessage): void => (scan ? this.#cache.fill(id, k) : this.#cache.remember(id, k));
    // an instance that does not keep the segment index looks at the message's file first: it is
    // the newer state when a record was moved out and its done line is not (yet) written
    if (!this.#cache.remembers) return (await this.#readFile(id, override, remember)) ?? (await this.#readRecord(id, remember, snapshot));
    return (await this.#readRecord(id, remember, snapshot)) ?? (await this.#readFile(id, override, remember));
  }

  async #readRecord(id: MessageId, remember: (k: KnownMessage) => void, snapshot?: SegState): Promise<EnvelopeFile | undefined> {
    const ref = await this.#segments.find(id, snapshot);
    if (ref) {
      const file = await this.#segments.readTrailer(id, ref);
      remember({ file, envFile: false, bodyLength: ref.bodyLength });
      return file;
    }
    return undefined;
  }

  async #readFile(id: MessageId, override: boolean, remember: (k: KnownMessage) => void): Promise<EnvelopeFile | undefined> {
    if (override) {
      const file = await this.#files.readOverride(id);
      if (file) {
        remember({ file, envFile: true });
        return file;
      }
    }
    const file = await this.#files.readTrailer(id);
    // without `override` the caller knows there is no env file (a walk listed env/ after msg/)
    if (file) remember({ file, envFile: false });
    return file;
  }

  /** Every envelope of one message (empty when the message is not in the queue, or was damaged and moved aside). */
  async findMessageEnvelopes(messageId: MessageId): Promise<Envelope[]> {
    if (!isQueueId(messageId)) return [];
    return this.#locks.run(messageId, async () => {
      try {
        return (await this.#read(messageId))?.envelopes ?? [];
      } catch (err) {
        // as a walk does: a damaged message goes to corrupt/ for the operator and is not listed
        if (!(err instanceof CorruptItem)) throw storageError(err);
        await this.#moveCorrupt(messageId);
        return [];
      }
    });
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
    await this.#dropStaleSchedule();
    await this.#locks.run(msg, async () => {
      try {
        const seg = await this.#segments.state();
        const file = await this.#read(msg, true, seg);
        const i = file?.envelopes.findIndex((e) => e.id === env.id) ?? -1;
        if (!file || i < 0) throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
        const next = [...file.envelopes];
        next[i] = env;
        const ref = seg.index.get(msg);
        if (ref) await this.#promote(msg, ref, next, seg);
        else await this.#writeOverride(msg, next);
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  async deleteEnvelope(id: EnvelopeId): Promise<void> {
    this.#check();
    const msg = messageIdOfEnvelope(id);
    if (!msg) return;
    await this.#dropStaleSchedule();
    await this.#locks.run(msg, async () => {
      try {
        const seg = await this.#segments.state();
        const file = await this.#read(msg, true, seg);
        if (!file) return;
        const rest = file.envelopes.filter((e) => e.id !== id);
        if (rest.length === file.envelopes.length) return;
        const ref = seg.index.get(msg);
        if (ref && rest.length > 0) {
          await this.#promote(msg, ref, rest, seg);
        } else if (ref) {
          this.#cache.forget(msg);
          await this.#segments.done(msg, ref, seg);
          // a reader's index may list a record whose message was moved to its own file
          if (!this.#cache.remembers) await this.#files.remove(msg, undefined).catch((err: unknown) => {
            if (errorCode(err) !== 'ENOENT') throw err;
          });
        } else if (rest.length > 0) {
          await this.#writeOverride(msg, rest);
        } else {
          const k = this.#cache.get(msg);
          this.#cache.forget(msg);
          await this.#files.remove(msg, k?.envFile);
        }
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  /**
   * Moves a segment message to its own file with new envelopes: its envelopes change (a retry,
   * a hold, some recipients done), so it leaves the segment, which can then be removed once its
   * other records are delivered. The file is durable before the record is marked done.
   */
  async #promote(id: MessageId, ref: SegRef, envelopes: Envelope[], seg: SegState): Promise<void> {
    const body = this.#cache.get(id)?.body ?? (await this.#segments.readBody(ref));
    const file = envelopeFile(id, envelopes);
    await this.#files.writeWhole(id, body, file);
    await this.#segments.done(id, ref, seg);
    this.#cache.remember(id, { file, envFile: false, bodyLength: body.length }, [body]);
  }

  /** Writes the env override; the cache follows it (or forgets, when the write failed). */
  async #writeOverride(id: MessageId, envelopes: readonly Envelope[]): Promise<void> {
    let file: EnvelopeFile;
    try {
      file = await this.#files.writeOverride(id, envelopes);
    } catch (err) {
      this.#cache.forget(id); // the env file's state is unknown now
      throw err;
    }
    const k = this.#cache.get(id);
    if (k) {
      k.file = file;
      k.envFile = true;
    }
  }

  /** Ids of the queued messages, oldest first. */
  async listMessageIds(): Promise<MessageId[]> {
    return (await this.#list()).ids;
  }

  async #list(): Promise<{ ids: MessageId[]; seg: SegState }> {
    // the fallback for an acceptor's notice that never came (it was killed after its fsync)
    await this.#segments.refresh();
    const seg = await this.#segments.state();
    const files = await this.#files.listIds();
    const inFiles = new Set(files);
    return { ids: [...files, ...[...seg.index.keys()].filter((n) => !inFiles.has(n))].sort(), seg };
  }

  /** The first `limit` ids after `after` (a page): msg/ is listed but not sorted, env/ not listed. */
  async #listPage(after: MessageId | undefined, limit: number): Promise<{ ids: MessageId[]; seg: SegState }> {
    await this.#segments.refresh();
    const seg = await this.#segments.state();
    return { ids: firstIdsAfter([await this.#files.listIds(), seg.index.keys()], after, limit), seg };
  }

  async *walkEnvelopes(after?: MessageId, limit?: number): AsyncIterable<Envelope> {
    const page = limit !== undefined;
    const listed = page ? await this.#listPage(after, limit) : await this.#list();
    const ids = page ? listed.ids : idsAfter(listed.ids, after);
    // listed after the messages, so an override written before this point is seen; a page
    // looks for the override of each of its few messages instead
    const overrides = page ? undefined : await this.#files.listOverrides();
    yield* this.#readEach(ids, listed.seg, (id) => overrides?.has(id) ?? true, false);
  }

  /**
   * Every envelope (a message's together) in no order, msg/ read as a stream (spool-scan.ts):
   * memory bounded whatever the queue's size (issue 19). What is read is remembered only while
   * the cache has room: a walk of a big queue pushes out nothing deliveries use.
   */
  async *scanEnvelopes(): AsyncIterable<Envelope> {
    await this.#segments.refresh();
    const seg = await this.#segments.state();
    // env/ listed first (only the runner writes overrides, and a walk skips what it changed); a
    // filter's false "maybe" costs a failed open
    const overrides = await overrideFilter(this.#paths.env);
    yield* this.#readEach(scanIds(this.#paths.msg, seg.index), seg, (id) => overrides.mayHave(id), true);
  }

  /** Ids of the queued messages in no order, msg/ read as a stream (a rescan's listing: issue 19). */
  async *scanMessageIds(): AsyncIterable<MessageId> {
    await this.#segments.refresh();
    yield* scanIds(this.#paths.msg, (await this.#segments.state()).index);
  }

  async *#readEach(ids: Iterable<MessageId> | AsyncIterable<MessageId>, seg: SegState, override: (id: MessageId) => boolean, scan: boolean): AsyncIterable<Envelope> {
    type Loaded = { file: EnvelopeFile | undefined; err?: undefined } | { file?: undefined; err: unknown };
    const load = (id: string): Promise<Loaded> =>
      this.#read(id, override(id), seg, scan).then((file) => ({ file }), (err: unknown) => ({ err }));
    for await (const [id, got] of readAhead(ids, load)) {
      if (got.err !== undefined) {
        if (!(got.err instanceof CorruptItem)) throw storageError(got.err);
        await this.#locks.run(id, () => this.#moveCorrupt(id));
        continue;
      }
      if (got.file) yield* got.file.envelopes;
    }
  }

  #moveCorrupt(id: MessageId): Promise<string[]> {
    this.#cache.forget(id);
    return moveToCorrupt(this.#paths, this.#syncer, id);
  }

  /**
   * Removes leftovers and moves corrupt items to corrupt/ (spool-recovery.ts). Only safe while
   * no other process writes to the spool: open() runs it as owner.
   */
  recover(): Promise<RecoveryReport> {
    return recoverSpool(this.#recoverySubject());
  }

  /**
   * (`recoverLater`) Starts the recovery's part that runs beside new work (the listings of msg/
   * and env/; spool-recovery.ts), once: the server starts it when its queue is loaded, so that
   * the two listings of a big queue do not run at once. Undefined when there is none to run.
   */
  recoverRest(): Promise<RecoveryReport> | undefined {
    if (this.#restPending && !this.#closed && this.lastRecovery) {
      this.#restPending = false;
      this.recovered = recoverListed(this.#recoverySubject(), this.lastRecovery);
      this.recovered.catch(() => undefined); // the caller is told through `recovered`
    }
    return this.recovered;
  }

  #recoverySubject(): RecoverySubject {
    return {
      paths: this.#paths,
      segments: this.#segments,
      locked: (id, fn) => this.#locks.run(id, fn),
      closing: () => this.#closed,
    };
  }

  /** The runner's schedule from its last clean stop, taken once (schedule-checkpoint.ts). */
  takeSchedule(): Promise<readonly ScheduleEntry[] | undefined> {
    return takeSchedule(this.dir, this.#syncer).catch((err: unknown) => {
      throw storageError(err);
    });
  }

  async saveSchedule(entries: Iterable<ScheduleEntry>): Promise<void> {
    await writeSchedule(this.dir, this.#syncer, entries);
  }

  /** A change made without the runner (the offline CLI: an instance that does not cache) makes a saved schedule stale. */
  #dropStaleSchedule(): Promise<void> {
    if (this.#cache.remembers) return Promise.resolve();
    return (this.#scheduleDropped ??= dropSchedule(this.dir, this.#syncer));
  }

  /** Messages renamed into msg/ by any process (spool-watch.ts). */
  watchNew(onMessage: (id: MessageId) => void): () => void {
    return watchMessageDir(this.#paths.msg, onMessage);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // a recovery running in the background stops at its next item, before the lock is given up
    await this.recovered?.catch(() => undefined);
    await this.#segments.close();
    await this.#dirHandles.close();
    if (this.#owner) await releaseSpoolLock(this.dir);
  }
}
