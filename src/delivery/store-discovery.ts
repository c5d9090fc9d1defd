/**
 * @module store-discovery
 * How the queue runner learns what other processes did to the store: the store's watch
 * (QueueStore.watchNew) names new messages, each read alone; rescans (store-rescan.ts) run at
 * the poll interval as a fallback, or when asked (`sendmail`'s wake-up, an acceptor's exit).
 * While a rescan or a read runs, the runner's own changes are recorded (touch) so that neither
 * sets an envelope back to what the store held before the runner changed it.
 * Standards: none.
 * Security: none.
 * Limitations: a message committed while the start walk runs, after its listing, is found by the
 *   watch only if it is named after start(); else at the next rescan.
 */
import type { Clock, EnvelopeId, MessageId, QueueStore } from '../core/index.js';
import type { QueueScheduler } from '../queue/index.js';
import { publishError } from './delivery-events.js';
import { readNoticed, rescanStore, type RescanInput } from './store-rescan.js';

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

  constructor(o: StoreDiscoveryOptions) {
    this.#o = o;
  }

  /** Before the start walk: where a shared store's next rescan starts. */
  async mark(): Promise<void> {
    this.#cursor = (await this.#o.store.leases?.changesSince?.(undefined))?.cursor;
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

  /** Looks at the store again (store-rescan.ts). */
  async rescan(): Promise<void> {
    const touched = new Set<EnvelopeId>();
    this.#touched.add(touched);
    try {
      this.#cursor = await rescanStore({ ...this.#input(touched), cursor: this.#cursor });
    } finally {
      this.#touched.delete(touched);
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
