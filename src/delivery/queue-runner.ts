/**
 * @module queue-runner
 * The dispatcher of the background delivery process (seed §2): it feeds the in-memory
 * QueueScheduler from the spool (and from other processes' changes, store-discovery.ts),
 * takes the due batches it gives and runs each (batch-run.ts): a delivery batch goes to the
 * transport of its route (delivery-attempt.ts), and every outcome is recorded through the pure
 * transitions of queue/envelope-transitions.ts, stored before anything else happens: done →
 * envelope removed; temporary failure → deferred (retried when the policy says); permanent
 * failure or expiry → failure notice pending; success with NOTIFY=SUCCESS → success notice
 * pending; delay warning due → delay notice pending. Notices are then sent (notice-sender.ts) once no batch of the
 * message runs. It is also the online QueueControl: operator actions go through the same
 * transitions as the offline CLI's.
 *
 * Because a pending notice is a stored state, a crash or a notifier failure never loses it and
 * never delivers again: after a restart the notice is sent from the recorded outcome.
 * Standards: RFC 5321 §4.5.4.1 (retries), §6.1 (reliable delivery: nothing is lost),
 *   RFC 3461 §4.1 and §6.2 (NOTIFY: which notices), RFC 3463 (4.3.0, 4.3.5, 5.4.7),
 *   RFC 3464 (per-recipient reports).
 * Security: a notice about a "<>" message is the notifier's to route (postmaster), never "<>".
 * When the store is shared by several nodes (`store.leases`), each batch is claimed before it
 * runs and only what this node won is delivered (batch-claim.ts, batch-run.ts); the leases are given back
 * once the batch's outcomes and notices are stored.
 * Start (issue 19): the saved schedule, or after a crash a walk of the store, loads the queue
 * in the background (store-discovery.ts load()); deliveries do not wait for it (loaded()).
 * Limitations: messages added to the store by another process are seen when the store's watch
 *   names them (watchNew), else at the next poll (pollIntervalMs) or rescan(), and on a shared
 *   store (leases) every change; on a store
 *   without leases, changes to messages this runner knows must come through it (QueueControl);
 *   one runner per spool. A notice sent just before a crash, whose
 *   envelope was not yet removed, is sent again after the restart (the window is one store write).
 */
import { setMaxListeners } from 'node:events';
import {
  systemClock,
  type Clock, type Envelope, type EnvelopeId, type EnvelopeState, type MessageId,
  type QueueControl, type QueueStore, type StatedEnvelope,
} from '../core/index.js';
import { QueueScheduler, shutdownError, type Batch, type ControlAction, type StateCount } from '../queue/index.js';
import { NoticeSender } from './notice-sender.js';
import { runBatch, type BatchRunContext } from './batch-run.js';
import { StoreDiscovery } from './store-discovery.js';
import { operatorAction } from './online-control.js';
import { WakeTimer } from './wake-timer.js';
import { loadParked, type ParkedLoad } from './parked-envelopes.js';
import { publishError } from './delivery-events.js';
import type { QueueRunnerOptions } from './queue-runner-options.js';

export { shutdownError };
export type { QueueRunnerOptions } from './queue-runner-options.js';

export class QueueRunner implements QueueControl {
  readonly #store: QueueStore;
  readonly #clock: Clock;
  readonly #stopGraceMs: number;
  readonly #claimRetryMs: number;
  /** batches that did not start (no route slot free): their envelopes wait until then */
  readonly #notBefore = new WeakMap<Batch, number>();
  /** a shared store could not claim: no new batches before this time */
  #pausedUntil = 0;
  readonly #queue: QueueScheduler;
  readonly #notices: NoticeSender;
  /** what runBatch needs of this runner (batch-run.ts) */
  readonly #batchRun: BatchRunContext;

  /** deleted by the operator while busy: dropped when their batch ends */
  readonly #cancelled = new Set<EnvelopeId>();
  /** taken from an acceptor's notice and not tried yet (enqueue's neverTried; DeliveryRequest.neverTried) */
  readonly #neverTried = new Set<EnvelopeId>();
  /** other processes' changes: the store's watch and rescans (store-discovery.ts) */
  readonly #discovery: StoreDiscovery;
  readonly #messageJobs = new Map<MessageId, number>();
  readonly #jobs = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #idleWaiters: (() => void)[] = [];
  #passQueued = false;
  /** reads of parked envelopes running */
  #loading = 0;
  /** removed while parked envelopes were being read (kept only while a read runs) */
  readonly #removed = new Set<EnvelopeId>();
  readonly #parkedLoad: ParkedLoad;
  readonly #timer = new WakeTimer(() => this.wake());
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  /** the start's load of the queue (a rescan after a saved schedule, else a walk) */
  #startLoad: Promise<void> = Promise.resolve();

  constructor(opts: QueueRunnerOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock ?? systemClock;
    // every running delivery's SMTP session listens to the stop (its connect too): as many as
    // deliveries run at once, each gone when its delivery ends; Node's default of 10 printed a
    // MaxListenersExceededWarning with the 11th relay running
    setMaxListeners(0, this.#abort.signal);
    this.#stopGraceMs = Math.max(0, opts.stopGraceMs ?? 5_000);
    this.#claimRetryMs = Math.max(0, opts.claimRetryMs ?? 5_000);
    this.#queue = new QueueScheduler({
      policy: opts.scheduler, concurrency: opts.concurrency, perRouteConcurrency: opts.perRouteConcurrency,
      parkAfterMs: opts.parkAfterMs ?? 5 * 60_000, loadLimit: opts.loadLimit,
    });
    this.#discovery = new StoreDiscovery({
      store: this.#store, queue: this.#queue, clock: this.#clock,
      // a store that tells of new messages is rescanned only as a fallback (its hints may be lost)
      pollMs: opts.pollIntervalMs ?? (opts.store.watchNew ? 300_000 : 30_000),
      begin: () => this.#loading++,
      end: () => this.#loaded(),
    });
    this.#parkedLoad = {
      store: this.#store, queue: this.#queue, clock: this.#clock, retryMs: this.#claimRetryMs, removed: (id) => this.#removed.has(id),
    };
    this.#notices = new NoticeSender({
      notifier: opts.notifier,
      policy: opts.scheduler,
      clock: this.#clock,
      current: (id) => this.#queue.get(id),
      cancelled: (id) => this.#cancelled.has(id),
      put: (env) => this.#put(env),
      remove: (id) => this.#delete(id),
      free: (id) => this.#queue.free(id, this.#clock.now()),
      error: publishError,
    });
    this.#batchRun = {
      store: this.#store, policy: opts.scheduler, transports: opts.transports, clock: this.#clock, queue: this.#queue,
      notices: this.#notices, perRoute: Math.max(1, opts.perRouteConcurrency ?? 20), signal: this.#abort.signal, claimRetryMs: this.#claimRetryMs,
      pause: (until) => (this.#pausedUntil = until),
      notBefore: (b, at) => this.#notBefore.set(b, at),
      cancelled: (id) => this.#cancelled.has(id),
      put: (env) => this.#put(env),
      remove: (id) => this.#delete(id),
      takeNeverTried: (envs) => this.#takeNeverTried(envs),
    };
  }

  /**
   * Starts delivering: restores the saved schedule, if any, and loads the rest of what was
   * committed before (recovery after a crash) in the background (loaded()).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('QueueRunner already started');
    // a shared store: where the next rescan starts, taken before this first full read
    await this.#discovery.mark();
    this.#loading++;
    const { loading } = await this.#discovery.load().catch((err: unknown) => {
      this.#loading--;
      throw err;
    });
    this.#state = 'running';
    this.#startLoad = loading.catch((err: unknown) => publishError(err, 'loading the queue')).finally(() => this.#loaded());
    this.wake();
  }

  /** Resolves once the start's load of the queue has ended (every envelope known, or the load failed and was logged). */
  loaded(): Promise<void> {
    return this.#startLoad;
  }

  /**
   * Newly committed envelopes: tried at once. `neverTried`: taken from an acceptor's notice, a
   * record no scan had seen (acceptor-intake.ts), so no delivery of them can have been stored.
   */
  enqueue(envelopes: readonly Envelope[], opts: { neverTried?: boolean } = {}): void {
    const now = this.#clock.now();
    for (const env of envelopes) {
      // known already (the store's watch or a rescan read it first): that version may be newer
      if (this.#queue.knows(env.id)) continue;
      if (opts.neverTried) this.#neverTried.add(env.id);
      this.#queue.set(env, now);
      this.#discovery.touch(env.id);
    }
    this.wake();
  }

  /** Runs a scheduling pass soon (coalesced). */
  wake(): void {
    if (this.#passQueued || this.#state !== 'running') return;
    this.#passQueued = true;
    setImmediate(() => this.#pass());
  }

  /** Number of envelopes queued. */
  get size(): number {
    return this.#queue.size;
  }

  /** Envelopes parked (waiting long: only their time and id in memory). */
  get parked(): number {
    return this.#queue.parked;
  }

  /**
   * Envelopes per state, parked ones included: from memory, kept exact by every change
   * (queue-scheduler.ts), never read from the store (/metrics).
   */
  stateCounts(): StateCount[] {
    return this.#queue.stateCounts();
  }

  /** Each state's oldest arrival (ms; Infinity: none), from memory (queue-scheduler.ts oldestArrivals). */
  oldestArrivals(): Record<EnvelopeState, number> {
    return this.#queue.oldestArrivals();
  }

  /** Whether every envelope in the store has been seen (the start's walk or a rescan ended): until then stateCounts() is partial. */
  get seenWhole(): boolean {
    return this.#discovery.complete;
  }

  /** Envelopes this runner keeps in memory (a snapshot), with their states; parked ones are not. */
  envelopes(): StatedEnvelope[] {
    return this.#queue.envelopes();
  }

  /**
   * The first `limit` queued message ids after `after`, oldest first, from memory (a listing's
   * page without listing the spool); undefined until the queue has been seen whole.
   */
  pageIds(after: string | undefined, limit: number): MessageId[] | undefined {
    return this.#discovery.pageIds(after, limit);
  }

  /** Resolves once no batch runs and no pass is pending (for tests and graceful steps). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#queue.running === 0 && !this.#passQueued && this.#loading === 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Looks at the store again for what other processes did (store-rescan.ts). */
  async rescan(): Promise<void> {
    this.#loading++;
    await this.#discovery.rescan().finally(() => this.#loaded());
  }

  /** A read of the store (parked envelopes, noticed messages, a rescan) ended: a pass runs. */
  #loaded(): void {
    if (--this.#loading === 0) this.#removed.clear();
    this.wake();
    this.#checkIdle();
  }

  async #put(env: StatedEnvelope): Promise<void> {
    await this.#store.putEnvelope(env);
    this.#queue.set(env, this.#clock.now());
    this.#discovery.touch(env.id);
  }

  /** The batch's envelopes never tried, forgotten from here on: a try is starting. */
  #takeNeverTried(envs: readonly StatedEnvelope[]): ReadonlySet<EnvelopeId> | undefined {
    let out: Set<EnvelopeId> | undefined;
    for (const env of envs) {
      if (this.#neverTried.delete(env.id)) (out ??= new Set()).add(env.id);
    }
    return out;
  }

  async #delete(id: EnvelopeId): Promise<void> {
    this.#neverTried.delete(id);
    await this.#store.deleteEnvelope(id);
    if (this.#loading > 0) this.#removed.add(id);
    this.#queue.forget(id);
    this.#cancelled.delete(id);
    this.#discovery.touch(id);
  }

  /** Parked envelopes that came due: read back and filed (parked-envelopes.ts), then a pass. */
  #loadParked(ids: readonly EnvelopeId[]): void {
    this.#loading++;
    void loadParked(this.#parkedLoad, ids).finally(() => this.#loaded());
  }

  /** An operator action through the shared transitions (online-control.ts), parked envelopes read back first. */
  async #control(action: ControlAction, id: string | undefined): Promise<number> {
    this.#loading++;
    let n = 0;
    try {
      n = await operatorAction({
        queue: this.#queue, now: this.#clock.now(), put: (e) => this.#put(e), remove: (e) => this.#delete(e), cancel: (e) => this.#cancelled.add(e),
        parked: this.#parkedLoad,
        flushed: async (e) => {
          await this.#store.putEnvelope(e);
          this.#discovery.touch(e.id);
        },
      }, action, id);
    } finally {
      if (--this.#loading === 0) this.#removed.clear();
    }
    this.wake();
    return n;
  }

  flush(id?: string): Promise<number> {
    return this.#control('flush', id);
  }
  hold(id: string): Promise<number> {
    return this.#control('hold', id);
  }
  release(id: string): Promise<number> {
    return this.#control('release', id);
  }
  delete(id: string): Promise<number> {
    return this.#control('delete', id);
  }
  bounce(id: string): Promise<number> {
    return this.#control('bounce', id);
  }

  /**
   * Stops taking new work, waits for running batches, and saves the schedule (the store's
   * saveSchedule, for the next start); after the grace (stopGraceMs), or
   * when `signal` aborts, it aborts them: transports then report "delayed", the attempt is
   * recorded with the local error "shutdown", and the envelopes stay queued, due at once
   * (a stuck next hop must not hold up a stop for its minutes-long timeouts).
   */
  async stop(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#discovery.stop();
    this.#timer.clear();
    const onAbort = (): void => this.#abort.abort();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const grace = this.#jobs.size > 0 ? setTimeout(onAbort, this.#stopGraceMs) : undefined;
    try {
      while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs]);
      // the next start restores this instead of reading every envelope
      await this.#discovery.save();
    } catch (err) {
      publishError(err, 'saving the schedule');
    } finally {
      clearTimeout(grace);
      signal?.removeEventListener('abort', onAbort);
      this.#state = 'stopped';
      this.#passQueued = false;
      this.#checkIdle();
    }
  }

  #pass(): void {
    this.#passQueued = false;
    if (this.#state !== 'running') {
      this.#checkIdle();
      return;
    }
    const now = this.#clock.now();
    if (now < this.#pausedUntil) {
      this.#timer.set(this.#pausedUntil, now);
      this.#checkIdle();
      return;
    }
    for (const batch of this.#queue.takeDue(now)) this.#launch(batch);
    const loads = this.#queue.takeLoads();
    if (loads.length > 0) this.#loadParked(loads);
    const next = this.#queue.nextWakeAt();
    if (next < Infinity) this.#timer.set(next, now);
    this.#checkIdle();
  }

  #launch(b: Batch): void {
    this.#messageJobs.set(b.messageId, (this.#messageJobs.get(b.messageId) ?? 0) + 1);
    const job = runBatch(this.#batchRun, b)
      .catch((err: unknown) => publishError(err, 'queue runner'))
      .finally(async () => {
        const m = (this.#messageJobs.get(b.messageId) ?? 1) - 1;
        if (m > 0) this.#messageJobs.set(b.messageId, m);
        else {
          this.#messageJobs.delete(b.messageId);
          await this.#notices.send(b.messageId).catch((err: unknown) => publishError(err, 'notices'));
        }
        // outcomes and notices are stored: the leases go (before free(), so this node may claim again)
        await this.#store.leases?.release(b.envelopes.map((e) => e.id)).catch((err: unknown) => publishError(err, 'releasing leases'));
        // anything still busy here had no notice pending: free it for a later pass
        const now = this.#clock.now();
        const notBefore = this.#notBefore.get(b) ?? now;
        for (const e of b.envelopes) if (!this.#notices.isPending(b.messageId, e.id)) this.#queue.free(e.id, now, notBefore);
        // counted as running until its notices are out, so idle() means "nothing left to do"
        this.#queue.finish(b);
        this.#jobs.delete(job);
        this.wake();
        this.#checkIdle();
      });
    this.#jobs.add(job);
  }
}
