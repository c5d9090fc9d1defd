/**
 * @module queue-scheduler
 * The in-memory queue state (OpenSMTPD's scheduler backend): every known envelope filed once,
 * when it changes or its wait ends, as ready (ready-set.ts: per route and message for
 * deliveries; apart for notices and expiries), waiting (a min-heap by time), held, or busy
 * (inside a running batch); plus the running batches per route and in total (batch-slots.ts).
 * The dispatcher (delivery/queue-runner.ts) feeds it envelopes and takes due batches within
 * the concurrency limits; the retry policy (core Scheduler) says when each envelope is due. No
 * I/O and no clock of its own: callers pass `now`, so it is tested without sockets or waiting.
 *
 * Batching (Postfix): the due envelopes of one message with the same route form one delivery
 * batch; notices and expiries form one batch per message and kind, not bound by route limits.
 * Scheduling is proportional to due work: accepting a message while a route is down (or
 * saturated) never looks at the waiting envelopes again.
 *
 * Parking (issue 19): an envelope that waits longer than `parkAfterMs` is not kept: only its
 * (time, id) stays, in the ParkedSet (parked-set.ts: typed arrays and a heap of its own, some
 * 45 octets outside the JavaScript heap instead of the envelope's 1 KB and more), so 1,000,000
 * deferred envelopes cost tens of MB. When its time
 * comes (or the operator names it) the dispatcher loads it from the store again (takeLoads,
 * parkedMatching) and files it with set(). Parked envelopes that come due are handed out for
 * loading only while fewer than `loadLimit` due envelopes are in memory (ready or being loaded),
 * so a flush of a million parked envelopes does not bring them all back at once.
 *
 * A clean stop saves the schedule (schedule(): every envelope with the time it is next looked
 * at) and the next start restores it (restore(): all parked), so a restart reads no envelope
 * before deliveries begin (issue 19). The saved entries carry each envelope's state.
 *
 * Counts (issue 19, /metrics): the envelopes known per state, parked ones included, are kept
 * exact by every change (set, forget, park, restore): a scrape reads them, never the store.
 * Standards: RFC 5321 §4.5.4.1 (retry timing, through the policy).
 * Security: none.
 * Limitations: one scheduler per spool.
 */
import {
  envelopeStates, routeKey,
  type EnvelopeId, type Envelope, type EnvelopeState, type MessageId, type ScheduleEntry, type Scheduler, type StatedEnvelope,
} from '../core/index.js';
import { withState } from './envelope-transitions.js';
import { firstIdsAfter } from './queue-ids.js';
import { BatchSlots } from './batch-slots.js';
import { ParkedSet } from './parked-set.js';
import { ReadySet, type Batch } from './ready-set.js';
import { WaitHeap } from './wait-heap.js';

export interface QueueSchedulerOptions {
  /** the retry policy: when an envelope is due, or expired */
  readonly policy: Scheduler;
  /** batches running at once, in total (default 20) */
  readonly concurrency?: number;
  /** delivery batches running at once per route (default 20, like Postfix's default_destination_concurrency_limit) */
  readonly perRouteConcurrency?: number;
  /** an envelope waiting longer than this is parked: only its time and id are kept (default: never) */
  readonly parkAfterMs?: number;
  /** due envelopes in memory (ready or being loaded) beyond which due parked ones wait to be loaded (default 10,000) */
  readonly loadLimit?: number;
}

/** An envelope state as the ParkedSet keeps it (a kind): 1 + its place in envelopeStates. */
const kindOf = (state: EnvelopeState): number => envelopeStates.indexOf(state) + 1;

/** Per state: how many envelopes are known. */
export interface StateCount {
  readonly state: EnvelopeState;
  readonly count: number;
}

export class QueueScheduler {
  readonly #policy: Scheduler;
  /** the batches running, in total and per route, against their limits (batch-slots.ts) */
  readonly #slots: BatchSlots;

  /** every queued envelope known */
  readonly #index = new Map<EnvelopeId, StatedEnvelope>();
  /** inside a running batch, or waiting for its message's notices: not filed */
  readonly #busy = new Set<EnvelopeId>();
  /** ready now: deliveries per route and message, notices and expiries apart (ready-set.ts) */
  readonly #ready = new ReadySet();
  /** waiting envelopes kept in memory, by time; an entry counts only while #waitAt has the same time for it (parked ones: the ParkedSet's heap) */
  readonly #waiting = new WaitHeap();
  readonly #waitAt = new Map<EnvelopeId, number>();
  readonly #parkAfter: number;
  /** parked envelopes: only their time and id (parked-set.ts) */
  readonly #parked = new ParkedSet();
  readonly #loadLimit: number;
  /** the last takeDue left due parked envelopes in the heap (loadLimit): a load or a batch's end wakes the dispatcher */
  #capped = false;
  /** set() was told not to park */
  #keep = false;
  /** envelopes in #index per state (kindOf): parked ones are the ParkedSet's to count */
  readonly #indexCounts = new Float64Array(envelopeStates.length + 1);

  constructor(opts: QueueSchedulerOptions) {
    this.#policy = opts.policy;
    this.#slots = new BatchSlots(Math.max(1, opts.concurrency ?? 20), Math.max(1, opts.perRouteConcurrency ?? 20));
    this.#parkAfter = opts.parkAfterMs ?? Infinity;
    this.#loadLimit = Math.max(1, opts.loadLimit ?? 10_000);
  }

  /** Number of envelopes known, parked ones included. */
  get size(): number {
    return this.#index.size + this.#parked.size;
  }

  /** Number of envelopes parked (or due and not loaded yet). */
  get parked(): number {
    return this.#parked.size;
  }

  /** Batches running. */
  get running(): number {
    return this.#slots.running;
  }

  /** Envelopes known per state, parked ones included: exact, kept by every change (no pass over anything). */
  stateCounts(): StateCount[] {
    return envelopeStates.map((state) => ({ state, count: this.#indexCounts[kindOf(state)] + this.#parked.countOf(kindOf(state)) }));
  }

  /**
   * The arrival (ms) of each state's oldest envelope, Infinity when none: in-memory ones by
   * arrivedAt, parked ones by their message id's time (one pass over memory, no string made).
   */
  oldestArrivals(): Record<EnvelopeState, number> {
    const oldest = this.#parked.oldestByKind();
    for (const env of this.#index.values()) {
      const k = kindOf(env.state);
      if (env.arrivedAt < oldest[k]) oldest[k] = env.arrivedAt;
    }
    return Object.fromEntries(envelopeStates.map((state) => [state, oldest[kindOf(state)]])) as Record<EnvelopeState, number>;
  }

  /** Envelopes kept in memory (a snapshot): parked ones are not among them. */
  envelopes(): StatedEnvelope[] {
    return [...this.#index.values()];
  }

  get(id: EnvelopeId): StatedEnvelope | undefined {
    return this.#index.get(id);
  }

  /** Ids of every envelope known, parked ones included. */
  ids(): EnvelopeId[] {
    return [...this.#index.keys(), ...this.parkedIds()];
  }

  /** Whether the envelope is known, parked or not. */
  knows(id: EnvelopeId): boolean {
    return this.#index.has(id) || this.#parked.has(id);
  }

  /** Ids of the parked envelopes (and of those due to be loaded). */
  parkedIds(): EnvelopeId[] {
    return this.#parked.ids();
  }

  /** The first `limit` message ids after `after` of every envelope known, sorted (a listing's page). */
  messageIdsAfter(after: string | undefined, limit: number): MessageId[] {
    const index = this.#index.keys();
    function* kept(): Iterable<MessageId> {
      for (const id of index) yield id.slice(0, id.lastIndexOf('-'));
    }
    return firstIdsAfter([kept(), this.#parked.messageIds()], after, limit);
  }

  /** Every parked envelope's id with its message id, one at a time (change nothing meanwhile). */
  parkedWithMessageIds(): Iterable<[EnvelopeId, MessageId]> {
    return this.#parked.withMessageIds();
  }

  /** The parked envelopes a message or envelope id names (all when undefined): load them, then set(). */
  parkedMatching(id: string | undefined): EnvelopeId[] {
    return this.#parked.matching(id);
  }

  /** Parked envelopes that came due since the last call (takeDue finds them): the caller loads each and set()s it. */
  takeLoads(): EnvelopeId[] {
    return this.#parked.take();
  }

  /** Parked (not held nor due) envelopes' ids, a snapshot: a whole-queue flush claims them in batches. */
  parkedWaiting(): EnvelopeId[] {
    return this.#parked.waiting();
  }

  /**
   * Takes those of `ids` still parked for the caller to read, with their times (as takeLoads
   * does: set(), forget() or park() ends each).
   */
  claimParked(ids: readonly EnvelopeId[]): ScheduleEntry[] {
    return this.#parked.claim(ids);
  }


  /**
   * An envelope parked until `at` (a load that failed, a claimed one given back, a restored
   * schedule; Infinity: until named), in `state` (default: the state it was parked in; for one
   * not parked, held when `at` is Infinity, else deferred).
   */
  park(id: EnvelopeId, at: number, state?: EnvelopeState): void {
    if (this.#index.has(id)) {
      this.#parked.drop(id);
      return;
    }
    const s = state ?? (this.#parked.has(id) ? undefined : at === Infinity ? 'held' : 'deferred');
    this.#parked.park(id, at, s === undefined ? undefined : kindOf(s));
  }

  /** A saved schedule (a restart): every envelope not known yet is parked until its time, in its saved state. */
  restore(entries: Iterable<ScheduleEntry>): void {
    for (const { id, at, state } of entries) if (!this.knows(id)) this.park(id, at, state);
  }

  /**
   * The schedule to save at a clean stop: every envelope known, with the time it is next looked
   * at (0: at once, as ready, busy and loading ones; Infinity: held).
   */
  *schedule(): Iterable<ScheduleEntry> {
    for (const [id, env] of this.#index) yield { id, at: env.state === 'held' ? Infinity : (this.#waitAt.get(id) ?? 0), state: env.state };
    for (const { id, at, kind } of this.#parked.entries()) yield { id, at, ...(kind > 0 && { state: envelopeStates[kind - 1] }) };
  }

  isBusy(id: EnvelopeId): boolean {
    return this.#busy.has(id);
  }

  /** The envelopes a message or envelope id names (all when id is undefined). */
  matching(id: string | undefined): StatedEnvelope[] {
    return [...this.#index.values()].filter((e) => id === undefined || e.id === id || e.messageId === id);
  }

  /**
   * Records an envelope (new or changed; given its state if it has none) and files it unless
   * busy; `keep`: not parked by this call (an operator action is about to look at it).
   */
  set(env: Envelope, now: number, opts: { readonly keep?: boolean } = {}): StatedEnvelope {
    const e = withState(env);
    this.#parked.drop(e.id);
    this.#unindex(e.id);
    this.#index.set(e.id, e);
    this.#indexCounts[kindOf(e.state)]++;
    this.#ready.unready(e.id);
    this.#keep = opts.keep === true;
    try {
      if (!this.#busy.has(e.id)) this.#classify(e, now);
    } finally {
      this.#keep = false;
    }
    return e;
  }

  /** Drops an envelope (removed from the spool). */
  forget(id: EnvelopeId): void {
    this.#parked.drop(id);
    this.#ready.unready(id);
    this.#waitAt.delete(id);
    this.#unindex(id);
    this.#busy.delete(id);
  }

  /** Removes an envelope from #index (and its count). */
  #unindex(id: EnvelopeId): StatedEnvelope | undefined {
    const env = this.#index.get(id);
    if (env === undefined) return undefined;
    this.#index.delete(id);
    this.#indexCounts[kindOf(env.state)]--;
    return env;
  }

  /**
   * Ends an envelope's busy state and files it again (when it is still queued); with
   * `notBefore` after `now`, it waits until then first (its attempt did not start).
   */
  free(id: EnvelopeId, now: number, notBefore = now): void {
    if (!this.#busy.delete(id)) return;
    const env = this.#index.get(id);
    if (!env) return;
    if (notBefore > now) this.#wait(id, notBefore, now);
    else this.#classify(env, now);
  }

  /** The earliest time a waiting envelope comes due (Infinity when none waits, or when due ones wait for loadLimit). */
  nextWakeAt(): number {
    return Math.min(this.#waiting.peek(), this.#capped ? Infinity : this.#parked.nextAt());
  }

  /**
   * Files what came due by `now`, then takes the ready batches the limits allow: notices and
   * expiries first, then deliveries per route, oldest message first. Their envelopes become
   * busy and each batch counts as running until finish().
   */
  takeDue(now: number): Batch[] {
    this.#capped = false;
    while (this.#parked.nextAt() <= now) {
      if (this.#parked.due + this.#ready.size >= this.#loadLimit) {
        // enough due work in memory: the rest is loaded as that goes
        this.#capped = true;
        break;
      }
      this.#parked.comeDue(now);
    }
    while (this.#waiting.peek() <= now) {
      const { at, id } = this.#waiting.pop() as { at: number; id: EnvelopeId };
      if (this.#waitAt.get(id) !== at) continue; // superseded
      this.#waitAt.delete(id);
      const env = this.#index.get(id);
      if (env && !this.#busy.has(id)) this.#classify(env, now);
    }
    const out: Batch[] = [];
    if (!this.#slots.full) {
      for (const g of this.#ready.otherBatches((id) => this.#index.get(id))) {
        if (this.#slots.full) break;
        out.push(this.#take(g));
      }
    }
    for (const [route, byMessage] of this.#ready.deliveries) {
      if (this.#slots.full) break;
      for (const [messageId, ids] of byMessage) {
        if (this.#slots.routeFull(route)) break;
        const envelopes: StatedEnvelope[] = [];
        for (const id of ids) {
          const env = this.#index.get(id);
          if (env) envelopes.push(env);
        }
        if (envelopes.length === 0) {
          for (const id of [...ids]) this.#ready.unready(id);
          continue;
        }
        out.push(this.#take({ kind: 'deliver', messageId, route: envelopes[0].route, envelopes }));
      }
    }
    return out;
  }

  /** A batch ended: its running slot (and route slot) is free. Its envelopes stay busy until free(). */
  finish(batch: Batch): void {
    this.#slots.end(batch);
  }

  #take(batch: Batch): Batch {
    for (const e of batch.envelopes) {
      this.#ready.unready(e.id);
      this.#busy.add(e.id);
    }
    this.#slots.start(batch);
    return batch;
  }

  #wait(id: EnvelopeId, until: number, now: number): void {
    if (until - now > this.#parkAfter && !this.#busy.has(id) && !this.#keep) {
      // parked: only (time, id) and its state are kept
      this.#waitAt.delete(id);
      const env = this.#unindex(id);
      if (this.#parked.timeOf(id) !== until || env) this.#parked.park(id, until, env && kindOf(env.state));
      return;
    }
    if (this.#waitAt.get(id) === until) return;
    this.#waitAt.set(id, until);
    this.#waiting.push(until, id);
  }

  #classify(env: StatedEnvelope, now: number): void {
    if (env.state === 'held') {
      this.#waitAt.delete(env.id);
      return;
    }
    if (env.state === 'notice-pending') {
      // a delay warning goes at once (its nextAttemptAt is the delivery's retry time);
      // a failure or success notice that could not be sent waits for its retry
      if (env.notice !== 'delay' && env.nextAttemptAt > now) {
        this.#wait(env.id, env.nextAttemptAt, now);
        return;
      }
      this.#waitAt.delete(env.id);
      this.#ready.fileOther(env.id);
      return;
    }
    const d = this.#policy.decide(env, now);
    if (d.kind === 'held') {
      this.#waitAt.delete(env.id);
      return;
    }
    if (d.kind === 'wait') {
      this.#wait(env.id, d.until, now);
      return;
    }
    this.#waitAt.delete(env.id);
    if (d.kind === 'expire') {
      this.#ready.fileOther(env.id);
      return;
    }
    this.#ready.fileDelivery(env, routeKey(env.route));
  }
}
