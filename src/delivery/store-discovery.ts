/**
 * @module store-discovery
 * How the queue runner learns what other processes did to the store: the store's watch
 * (QueueStore.watchNew) names new messages, each read alone; rescans (store-rescan.ts) run at
 * the poll interval as a fallback, or when asked (`sendmail`'s wake-up, an acceptor's exit).
 * A start without a saved schedule walks the whole store (walk()) while the runner delivers;
 * a rescan asked for meanwhile runs once the walk ends (the walk lists everything from its
 * beginning, the watch names what comes later). While a walk, a rescan or a read runs, the runner's own changes are recorded (touch) so that neither
 * sets an envelope back to what the store held before the runner changed it.
 * Standards: none.
 * Security: none.
 * Limitations: an acceptor's record appended while the walk runs, after its listing, whose
 *   notice was lost, is found by the rescan that follows the walk.
 */
import type { Clock, EnvelopeId, MessageId, QueueStore } from '../core/index.js';
import type { QueueScheduler } from '../queue/index.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { collectGarbage } from '../util/index.js';
import { publishError } from './delivery-events.js';
import { readNoticed, rescanStore, type RescanInput } from './store-rescan.js';

/** envelopes walked between full collections (walk()) */
const walkBatch = 100_000;
/** saved envelopes restored between turns of the event loop */
const restoreSlice = 50_000;

export interface StoreDiscoveryOptions {
  readonly store: QueueStore;
  readonly queue: QueueScheduler;
  readonly clock: Clock;
  /** ms between fallback rescans (0: none) */
  readonly pollMs: number;
  /** a polled rescan or a read of noticed messages begins (the runner is not idle until it ends) */
  readonly begin: () => void;
  /** it ended: the runner runs a pass */
  readonly end: () => void;
}

export class StoreDiscovery {
  readonly #o: StoreDiscoveryOptions;
  /** a shared store's change cursor (EnvelopeLeases.changesSince): where the next rescan starts */
  #cursor: string | undefined;
  /** per running rescan or read: what the runner changed since it began */
  readonly #touched = new Set<Set<EnvelopeId>>();
  /** message ids the watch named, read at the next turn */
  readonly #noticed = new Set<MessageId>();
  #unwatch: (() => void) | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running = false;
  /** the walk of the whole store running (start without a saved schedule) */
  #walking = false;
  /** a rescan asked for while the walk ran: run when it ends */
  #rescanAfterWalk = false;
  /** every message of the store has been seen (a walk or a rescan ended well): a schedule saved at stop is whole */
  complete = false;

  constructor(o: StoreDiscoveryOptions) {
    this.#o = o;
  }

  /** Before the start walk: where a shared store's next rescan starts. */
  async mark(): Promise<void> {
    this.#cursor = (await this.#o.store.leases?.changesSince?.(undefined))?.cursor;
  }

  /**
   * The start's load (after mark()): the schedule saved at the last clean stop, restored all
   * parked, and then (in the background: the returned promise) a rescan for what was added
   * since; without one, a walk of the whole store. Watching and polling start at once.
   */
  async load(): Promise<{ loading: Promise<void> }> {
    const saved = await this.#o.store.takeSchedule?.();
    // in slices, so that the listeners (started before) serve between them
    for (let i = 0; saved && i < saved.length; i += restoreSlice) {
      this.#o.queue.restore(saved.slice(i, i + restoreSlice));
      await nextTurn();
    }
    this.start();
    return { loading: saved ? this.rescan() : this.walk() };
  }

  /** At a clean stop: saves the schedule for the next start, when the store was seen whole. */
  async save(): Promise<void> {
    if (this.complete) await this.#o.store.saveSchedule?.(this.#o.queue.schedule());
  }

  /** The first `limit` message ids after `after` from memory (a listing's page); undefined until the store was seen whole. */
  pageIds(after: string | undefined, limit: number): MessageId[] | undefined {
    return this.complete ? this.#o.queue.messageIdsAfter(after, limit) : undefined;
  }

  /** Starts watching and polling. */
  start(): void {
    this.#running = true;
    this.#unwatch = this.#o.store.watchNew?.((id) => this.#notice(id));
    if (this.#o.pollMs > 0) {
      this.#poll = setInterval(() => {
        this.#o.begin();
        this.rescan()
          .catch((err: unknown) => publishError(err, 'rescan'))
          .finally(() => this.#o.end());
      }, this.#o.pollMs);
      this.#poll.unref();
    }
  }

  stop(): void {
    this.#running = false;
    clearInterval(this.#poll);
    this.#unwatch?.();
  }

  /** The runner changed envelope `id` (stored it or removed it). */
  touch(id: EnvelopeId): void {
    for (const t of this.#touched) t.add(id);
  }

  /** Looks at the store again (store-rescan.ts); while the walk runs, once it has ended. */
  async rescan(): Promise<void> {
    if (this.#walking) {
      this.#rescanAfterWalk = true;
      return;
    }
    const touched = new Set<EnvelopeId>();
    this.#touched.add(touched);
    try {
      this.#cursor = await rescanStore({ ...this.#input(touched), cursor: this.#cursor });
      this.complete = true;
    } finally {
      this.#touched.delete(touched);
    }
  }

  /**
   * Reads every envelope of the store (a start without a saved schedule) and files those the
   * runner does not know and has not changed meanwhile; then a rescan asked for meanwhile.
   */
  async walk(): Promise<void> {
    const { store, queue, clock } = this.#o;
    const touched = new Set<EnvelopeId>();
    this.#touched.add(touched);
    this.#walking = true;
    try {
      let n = 0;
      for await (const env of store.scanEnvelopes?.() ?? store.walkEnvelopes()) {
        if (!this.#running) return;
        if (!queue.knows(env.id) && !touched.has(env.id)) queue.set(env, clock.now());
        // what the walk read is garbage at once, but V8 let ~250 MB of it pile up in the old
        // generation between its own full collections at a million (issue 19): one per batch
        if (++n % walkBatch === 0) collectGarbage();
      }
      this.complete = true;
    } finally {
      this.#walking = false;
      this.#touched.delete(touched);
    }
    if (this.#rescanAfterWalk && this.#running) {
      this.#rescanAfterWalk = false;
      await this.rescan();
    }
  }

  #input(touched: Set<EnvelopeId>): Omit<RescanInput, 'cursor'> {
    const { store, queue, clock } = this.#o;
    return { store, queue, keep: (id) => queue.isBusy(id) || touched.has(id), now: () => clock.now() };
  }

  /** A message the watch named: read soon (coalesced), its unknown envelopes filed. */
  #notice(id: MessageId): void {
    if (!this.#running) return;
    const first = this.#noticed.size === 0;
    this.#noticed.add(id);
    if (!first) return;
    setImmediate(() => {
      const ids = [...this.#noticed];
      this.#noticed.clear();
      const touched = new Set<EnvelopeId>();
      this.#touched.add(touched);
      this.#o.begin();
      readNoticed(this.#input(touched), ids)
        .catch((err: unknown) => publishError(err, 'reading noticed messages'))
        .finally(() => {
          this.#touched.delete(touched);
          this.#o.end();
        });
    });
  }
}
