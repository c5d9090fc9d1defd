/**
 * @module fs-queue-store
 * The default spool, under one directory (`<data_dir>/spool`; layout in spool-layout.ts): a
 * small message is a record in an append-only segment, a large one (or one whose envelopes
 * changed) a file of its own, like Postfix's queue files. This class puts the parts together
 * and serializes changes per message; each part is one concept in its own file:
 *
 *   spool-layout.ts      directories, the `format` file       spool-lock.ts      the `lock` file
 *   spool-format.ts      message file, trailer and footer     queue-ids.ts       pages of ids
 *   message-files.ts     msg/<id> and env/<id>.json           segment-log.ts     segment records
 *   segment-messages.ts  which messages live in segments      message-cache.ts   cache strategies
 *   spool-reads.ts       finding, listing, walking            spool-updates.ts   envelope changes
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
import { isQueueId, MailError, messageIdOfEnvelope, replies, type Envelope, type EnvelopeId, type MessageDraft, type MessageId, type QueueStore, type ScheduleEntry } from '../core/index.js';
import { DirSyncer, KeyedMutex, uniqueId } from '../util/index.js';
import { DirHandles } from './dir-handles.js';
import { FileCommit } from './file-commit.js';
import type { FsQueueStoreOptions } from './fs-queue-options.js';
import { commitImport } from './buffered-draft.js';
import { FsMessageDraft, type CommitStrategy } from './fs-message-draft.js';
import { BoundedMessageCache, NoMessageCache, type MessageCache } from './message-cache.js';
import { MessageFiles } from './message-files.js';
import { isImport } from './queue-ids.js';
import { SegmentCommit } from './segment-commit.js';
import { SegmentMessages, type SegRef } from './segment-messages.js';
import { CorruptItem, envelopeFile } from './spool-format.js';
import { SpoolPaths } from './spool-layout.js';
import { releaseSpoolLock, takeSpoolLock } from './spool-lock.js';
import { recoverBeforeServing, recoverListed, recoverSpool, type RecoveryReport, type RecoverySubject } from './spool-recovery.js';
import { takeSchedule, writeSchedule } from './schedule-checkpoint.js';
import { SpoolReads } from './spool-reads.js';
import { SpoolUpdates } from './spool-updates.js';
import { storageError } from './storage-error.js';
import { watchMessageDir } from './spool-watch.js';

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
  readonly #reads: SpoolReads;
  readonly #updates: SpoolUpdates;
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
    const parts = { dir: this.dir, paths, syncer: this.#syncer, cache: this.#cache, files: this.#files, segments: this.#segments, locks: this.#locks };
    this.#reads = new SpoolReads(parts);
    this.#updates = new SpoolUpdates(parts, this.#reads);
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

  /** (An acceptor) where message `id`'s record went, and its body's pieces (once; undefined for a message in its own file). */
  placeOf(id: MessageId): { ref: SegRef; body: readonly Buffer[] } | undefined {
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
   * id with its envelopes as they are, its body streamed from `body` (as an SMTP body is: past
   * 64 KB into tmp/, never held whole); false (nothing written, `body` destroyed) when the
   * message is here already.
   */
  async importMessage(id: MessageId, body: Readable, envelopes: readonly Envelope[]): Promise<boolean> {
    this.#check();
    if (envelopes.length === 0 || !isImport(id, envelopes)) {
      body.destroy();
      throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    }
    return this.#locks.run(id, async () => {
      if ((await this.#reads.read(id)) !== undefined) {
        body.destroy();
        return false;
      }
      await commitImport(await FsMessageDraft.create(this.#commit, id, this.#paths.draft(id)), body, envelopes);
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

  /** Every envelope of one message (empty when the message is not in the queue, or was damaged and moved aside). */
  async findMessageEnvelopes(messageId: MessageId): Promise<Envelope[]> {
    if (!isQueueId(messageId)) return [];
    return this.#locks.run(messageId, async () => {
      try {
        return (await this.#reads.read(messageId))?.envelopes ?? [];
      } catch (err) {
        // as a walk does: a damaged message goes to corrupt/ for the operator and is not listed
        if (!(err instanceof CorruptItem)) throw storageError(err);
        await this.#reads.moveCorrupt(messageId);
        return [];
      }
    });
  }

  async findEnvelope(id: EnvelopeId): Promise<Envelope | undefined> {
    const msg = messageIdOfEnvelope(id);
    if (!msg) return undefined;
    return (await this.#locks.run(msg, () => this.#reads.read(msg)))?.envelopes.find((e) => e.id === id);
  }

  async putEnvelope(env: Envelope): Promise<void> {
    this.#check();
    await this.#updates.put(env);
  }

  async deleteEnvelope(id: EnvelopeId): Promise<void> {
    this.#check();
    await this.#updates.delete(id);
  }

  /** Ids of the queued messages, oldest first. */
  async listMessageIds(): Promise<MessageId[]> {
    return (await this.#reads.list()).ids;
  }

  walkEnvelopes(after?: MessageId, limit?: number): AsyncIterable<Envelope> {
    return this.#reads.walk(after, limit);
  }

  /** Every envelope in no order, with memory bounded whatever the queue's size (spool-reads.ts). */
  scanEnvelopes(): AsyncIterable<Envelope> {
    return this.#reads.scan();
  }

  /** Ids of the queued messages in no order, msg/ read as a stream (a rescan's listing: issue 19). */
  scanMessageIds(): AsyncIterable<MessageId> {
    return this.#reads.scanIds();
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
