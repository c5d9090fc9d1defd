/**
 * @module spool-reads
 * How the files spool (fs-queue-store.ts) finds a message's envelopes and lists and walks what
 * it holds: a message is found in the cache, else in a segment, else as msg/<id> (with its env
 * override, which wins over the trailer). A damaged item met on the way goes to corrupt/.
 * Standards: seed §2 (spool).
 * Security: ids come from listings or are checked by the caller (core/envelope.ts isQueueId) before they
 *   become paths; what is read is checked by spool-format.ts and segment-log.ts.
 * Limitations: a walk that runs while envelopes change may see an envelope's previous state.
 */
import type { Envelope, MessageId } from '../core/index.js';
import type { DirSyncer, KeyedMutex } from '../util/index.js';
import type { KnownMessage, MessageCache } from './message-cache.js';
import type { MessageFiles } from './message-files.js';
import { firstIdsAfter, idsAfter } from './queue-ids.js';
import type { SegmentMessages, SegState } from './segment-messages.js';
import { CorruptItem, type EnvelopeFile } from './spool-format.js';
import type { SpoolPaths } from './spool-layout.js';
import { moveToCorrupt } from './spool-recovery.js';
import { overrideFilter, readAhead, scanIds } from './spool-scan.js';
import { storageError } from './storage-error.js';

/** The parts of a files spool that its reads and updates share (made once, at open). */
export interface SpoolParts {
  readonly dir: string;
  readonly paths: SpoolPaths;
  readonly syncer: DirSyncer;
  readonly cache: MessageCache;
  readonly files: MessageFiles;
  readonly segments: SegmentMessages;
  /** serializes changes per message */
  readonly locks: KeyedMutex;
}

export class SpoolReads {
  readonly #paths: SpoolPaths;
  readonly #syncer: DirSyncer;
  readonly #cache: MessageCache;
  readonly #files: MessageFiles;
  readonly #segments: SegmentMessages;
  readonly #locks: KeyedMutex;

  constructor(parts: SpoolParts) {
    this.#paths = parts.paths;
    this.#syncer = parts.syncer;
    this.#cache = parts.cache;
    this.#files = parts.files;
    this.#segments = parts.segments;
    this.#locks = parts.locks;
  }

  /**
   * The current envelopes of a message: cached, else its segment record, else its env override,
   * else its trailer (an instance that does not cache: its file before its record); undefined
   * when the message is not in the queue. `override` false skips
   * looking for an env file (a walk knows). Throws CorruptItem for a damaged item.
   */
  async read(id: MessageId, override = true, snapshot?: SegState, scan = false): Promise<EnvelopeFile | undefined> {
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

  /** Ids of the queued messages, oldest first, and the segment state they were listed in. */
  async list(): Promise<{ ids: MessageId[]; seg: SegState }> {
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

  /** QueueStore.walkEnvelopes: every envelope in message order, after `after`, `limit` messages at most. */
  async *walk(after?: MessageId, limit?: number): AsyncIterable<Envelope> {
    const page = limit !== undefined;
    const listed = page ? await this.#listPage(after, limit) : await this.list();
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
  async *scan(): AsyncIterable<Envelope> {
    await this.#segments.refresh();
    const seg = await this.#segments.state();
    // env/ listed first (only the runner writes overrides, and a walk skips what it changed); a
    // filter's false "maybe" costs a failed open
    const overrides = await overrideFilter(this.#paths.env);
    yield* this.#readEach(scanIds(this.#paths.msg, seg.index), seg, (id) => overrides.mayHave(id), true);
  }

  /** Ids of the queued messages in no order, msg/ read as a stream (a rescan's listing: issue 19). */
  async *scanIds(): AsyncIterable<MessageId> {
    await this.#segments.refresh();
    yield* scanIds(this.#paths.msg, (await this.#segments.state()).index);
  }

  async *#readEach(ids: Iterable<MessageId> | AsyncIterable<MessageId>, seg: SegState, override: (id: MessageId) => boolean, scan: boolean): AsyncIterable<Envelope> {
    type Loaded = { file: EnvelopeFile | undefined; err?: undefined } | { file?: undefined; err: unknown };
    const load = (id: string): Promise<Loaded> =>
      this.read(id, override(id), seg, scan).then((file) => ({ file }), (err: unknown) => ({ err }));
    for await (const [id, got] of readAhead(ids, load)) {
      if (got.err !== undefined) {
        if (!(got.err instanceof CorruptItem)) throw storageError(got.err);
        await this.#locks.run(id, () => this.moveCorrupt(id));
        continue;
      }
      if (got.file) yield* got.file.envelopes;
    }
  }

  /** Moves a damaged message to corrupt/ for the operator (the caller holds its lock). */
  moveCorrupt(id: MessageId): Promise<string[]> {
    this.#cache.forget(id);
    return moveToCorrupt(this.#paths, this.#syncer, id);
  }
}
