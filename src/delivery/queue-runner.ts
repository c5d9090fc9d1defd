/**
 * @module queue-runner
 * The background delivery process (seed §2): takes due envelopes from the spool, hands them to
 * the transport of their route, and applies the per-recipient results: done → envelope removed;
 * temporary failure → attempt recorded and retried when the scheduler says; permanent failure or
 * expiry → one failure notice per message (Notifier), then removed. Delay warnings and success
 * notices likewise. If the notifier fails, the envelope is kept and the notice retried.
 *
 * Batching (Postfix): due envelopes of one message with the same route go to the transport in
 * one DeliveryRequest. Concurrency: `concurrency` requests at once in total and
 * `perRouteConcurrency` per route. Notices are batched per message: they are sent once no
 * request for that message is running.
 *
 * A final outcome that still needs a notice is recorded as the envelope's last attempt
 * (status 5.x.x: failure notice pending; 2.x.x: success notice pending), so a crash or a
 * notifier failure never loses it and never delivers twice.
 * Standards: RFC 5321 §4.5.4.1 (retries), §6.1 (reliable delivery: nothing is lost),
 *   RFC 3461 §4.1 and §6.2 (NOTIFY: which notices), RFC 3463 (4.3.0, 4.3.5, 5.4.7),
 *   RFC 3464 (per-recipient reports).
 * Security: a notice about a "<>" message is the notifier's to route (postmaster), never "<>".
 * Scheduling is proportional to due work: every known envelope is classified once when it
 * changes (or its wait ends): ready now (kept per route and message, and apart for notices and
 * expiries), waiting (a min-heap by next attempt time), or held. A pass pops what came due and
 * launches from the ready sets while limits allow, so accepting a message while a route is down
 * (or saturated) never rescans the queue.
 * Limitations: changes made to the store by another process are seen at the next poll
 *   (pollIntervalMs) or rescan(); one runner per spool.
 */
import { channel } from 'node:diagnostics_channel';
import {
  addressToString, channels, formatReply, routeKey, statusForAll, systemClock,
  type Attempt, type Clock, type DeliveryReport, type DeliveryRequest, type DeliveryStatus, type EnhancedStatus, type Envelope,
  type EnvelopeId, type MessageId, type Notifier, type QueueStore, type Route, type Scheduler, type Transport,
} from '../core/index.js';
import { operatorBounceText, pendingNotice } from '../queue/index.js';

export interface QueueRunnerOptions {
  readonly store: QueueStore;
  readonly scheduler: Scheduler;
  /** by route.transport ("local", "smtp", ...) */
  readonly transports: ReadonlyMap<string, Transport>;
  readonly notifier: Notifier;
  readonly clock?: Clock;
  /** delivery requests running at once, in total (default 20) */
  readonly concurrency?: number;
  /** delivery requests running at once per route (default 20, like Postfix's default_destination_concurrency_limit) */
  readonly perRouteConcurrency?: number;
  /** ms between rescans of the store for changes made by other processes (default 30 s; 0 = never) */
  readonly pollIntervalMs?: number;
  /** ms stop() lets running deliveries finish before aborting them (default 5 s) */
  readonly stopGraceMs?: number;
}

/** The local error recorded for a delivery aborted by stop(). */
export const shutdownError = 'shutdown';

type NoticeKind = 'failure' | 'delay' | 'success';

interface PendingNotice {
  kind: NoticeKind;
  envelope: Envelope;
  result: DeliveryStatus;
  /** the outcome is already the envelope's last attempt (a retried notice) */
  recorded: boolean;
}

interface Group {
  kind: 'deliver' | 'expire' | 'notice';
  messageId: MessageId;
  route: Route;
  envelopes: Envelope[];
}

/** RFC 3461 §4.1: whether NOTIFY asks for a notice (absent NOTIFY = FAILURE,DELAY). */
function wants(env: Envelope, kind: NoticeKind): boolean {
  const n = env.dsn.notify;
  if (n === undefined || n.length === 0) return kind !== 'success';
  if (n.includes('NEVER')) return false;
  return n.includes(kind === 'failure' ? 'FAILURE' : kind === 'delay' ? 'DELAY' : 'SUCCESS');
}

/** A status of the class the action implies (guards against a transport's mismatch). */
function statusOfClass(s: EnhancedStatus | undefined, cls: 2 | 4 | 5): EnhancedStatus {
  const fallback = `${cls}.0.0` as EnhancedStatus;
  if (!s) return fallback;
  return s.startsWith(`${cls}.`) ? s : (`${cls}${s.slice(1)}` as EnhancedStatus);
}

function attemptOf(r: DeliveryStatus, at: number, status: EnhancedStatus): Attempt {
  return {
    at,
    status,
    ...(r.remoteMta !== undefined && { host: r.remoteMta }),
    ...(r.ip !== undefined && { ip: r.ip }),
    ...(r.reply !== undefined && { reply: r.reply }),
    ...(r.error !== undefined && { error: r.error }),
  };
}

/** The result a recorded final attempt stands for (for retried notices). */
function resultOf(env: Envelope, a: Attempt, kind: 'failure' | 'success'): DeliveryStatus {
  return {
    envelopeId: env.id,
    action: kind === 'failure' ? 'failed' : env.route.transport === 'local' ? 'delivered' : 'relayed',
    status: a.status,
    ...(a.reply !== undefined && { reply: a.reply }),
    ...(a.host !== undefined && { remoteMta: a.host }),
    ...(a.ip !== undefined && { ip: a.ip }),
    ...(a.error !== undefined && { error: a.error }),
  };
}

/** A binary min-heap of (time, envelope id): the waiting envelopes by next attempt time. */
class WaitHeap {
  readonly #at: number[] = [];
  readonly #id: EnvelopeId[] = [];
  get size(): number {
    return this.#at.length;
  }
  peek(): number {
    return this.#at.length > 0 ? this.#at[0] : Infinity;
  }
  push(at: number, id: EnvelopeId): void {
    const a = this.#at;
    const d = this.#id;
    let i = a.length;
    a.push(at);
    d.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= at) break;
      a[i] = a[p];
      d[i] = d[p];
      i = p;
    }
    a[i] = at;
    d[i] = id;
  }
  pop(): { at: number; id: EnvelopeId } | undefined {
    const a = this.#at;
    const d = this.#id;
    if (a.length === 0) return undefined;
    const top = { at: a[0], id: d[0] };
    const lastAt = a.pop() as number;
    const lastId = d.pop() as EnvelopeId;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= lastAt) break;
        a[i] = a[c];
        d[i] = d[c];
        i = c;
      }
      a[i] = lastAt;
      d[i] = lastId;
    }
    return top;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class QueueRunner {
  readonly #store: QueueStore;
  readonly #scheduler: Scheduler;
  readonly #transports: ReadonlyMap<string, Transport>;
  readonly #notifier: Notifier;
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #perRoute: number;
  readonly #pollMs: number;
  readonly #stopGraceMs: number;

  /** every queued envelope this runner knows */
  readonly #index = new Map<EnvelopeId, Envelope>();
  /** envelopes inside a running request or waiting for their message's notices */
  readonly #busy = new Set<EnvelopeId>();
  /** deleted by the operator while busy: dropped when their request ends */
  readonly #cancelled = new Set<EnvelopeId>();
  /** changed by this runner since the current rescan began (the rescan must not undo them) */
  #touched: Set<EnvelopeId> | undefined;
  /** ready for delivery now: route key → message → envelope ids (insertion order = age) */
  readonly #readyDeliver = new Map<string, Map<MessageId, Set<EnvelopeId>>>();
  /** ready now for a notice or an expiry (no route limit) */
  readonly #readyOther = new Set<EnvelopeId>();
  /** where each ready envelope is filed (to unfile it when it changes) */
  readonly #readyWhere = new Map<EnvelopeId, { route: string; messageId: MessageId } | 'other'>();
  /** waiting envelopes by time; an entry counts only while #waitAt has the same time for it */
  readonly #waiting = new WaitHeap();
  readonly #waitAt = new Map<EnvelopeId, number>();
  readonly #routeJobs = new Map<string, number>();
  readonly #messageJobs = new Map<MessageId, number>();
  readonly #notices = new Map<MessageId, PendingNotice[]>();
  readonly #jobs = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #idleWaiters: (() => void)[] = [];
  #running = 0;
  #passQueued = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #poll: NodeJS.Timeout | undefined;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(opts: QueueRunnerOptions) {
    this.#store = opts.store;
    this.#scheduler = opts.scheduler;
    this.#transports = opts.transports;
    this.#notifier = opts.notifier;
    this.#clock = opts.clock ?? systemClock;
    this.#concurrency = Math.max(1, opts.concurrency ?? 20);
    this.#perRoute = Math.max(1, opts.perRouteConcurrency ?? 20);
    this.#pollMs = opts.pollIntervalMs ?? 30_000;
    this.#stopGraceMs = Math.max(0, opts.stopGraceMs ?? 5_000);
  }

  /** Loads everything committed before (recovery after a crash) and starts delivering. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('QueueRunner already started');
    const now = this.#clock.now();
    for await (const env of this.#store.walkEnvelopes()) this.#set(env, now);
    this.#state = 'running';
    if (this.#pollMs > 0) {
      this.#poll = setInterval(() => {
        this.rescan().catch((err: unknown) => this.#publishError(err, 'rescan'));
      }, this.#pollMs);
      this.#poll.unref();
    }
    this.wake();
  }

  /** Newly committed envelopes: tried at once. */
  enqueue(envelopes: readonly Envelope[]): void {
    const now = this.#clock.now();
    for (const env of envelopes) {
      if (this.#busy.has(env.id)) continue;
      this.#set(env, now);
      this.#touched?.add(env.id);
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
    return this.#index.size;
  }

  /** Envelopes this runner knows (a snapshot). */
  envelopes(): Envelope[] {
    return [...this.#index.values()];
  }

  /** Resolves once no request runs and no pass is pending (for tests and graceful steps). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#running === 0 && !this.#passQueued;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Re-reads the store: picks up messages and operator changes made by other processes. */
  async rescan(): Promise<void> {
    const touched = new Set<EnvelopeId>();
    this.#touched = touched;
    const seen = new Set<EnvelopeId>();
    try {
      for await (const env of this.#store.walkEnvelopes()) {
        seen.add(env.id);
        if (!this.#busy.has(env.id) && !touched.has(env.id)) this.#set(env, this.#clock.now());
      }
      for (const id of [...this.#index.keys()]) {
        if (!seen.has(id) && !this.#busy.has(id) && !touched.has(id)) this.#forget(id);
      }
    } finally {
      if (this.#touched === touched) this.#touched = undefined;
    }
    this.wake();
  }

  #matching(id: string | undefined): Envelope[] {
    return [...this.#index.values()].filter((e) => id === undefined || e.id === id || e.messageId === id);
  }

  async #put(env: Envelope): Promise<void> {
    await this.#store.putEnvelope(env);
    this.#set(env, this.#clock.now());
    this.#touched?.add(env.id);
  }

  async #delete(id: EnvelopeId): Promise<void> {
    await this.#store.deleteEnvelope(id);
    this.#forget(id);
    this.#cancelled.delete(id);
    this.#touched?.add(id);
  }

  /** Records an envelope's new state and files it (ready, waiting or held) unless it is busy. */
  #set(env: Envelope, now: number): void {
    this.#index.set(env.id, env);
    this.#unready(env.id);
    if (!this.#busy.has(env.id)) this.#classify(env, now);
  }

  #forget(id: EnvelopeId): void {
    this.#unready(id);
    this.#waitAt.delete(id);
    this.#index.delete(id);
  }

  /** Ends an envelope's busy state and files it again (when it is still queued). */
  #free(id: EnvelopeId): void {
    if (!this.#busy.delete(id)) return;
    const env = this.#index.get(id);
    if (env) this.#classify(env, this.#clock.now());
  }

  #classify(env: Envelope, now: number): void {
    const d = this.#scheduler.decide(env, now);
    if (d.kind === 'held') {
      this.#waitAt.delete(env.id);
      return;
    }
    if (d.kind === 'wait') {
      if (this.#waitAt.get(env.id) === d.until) return;
      this.#waitAt.set(env.id, d.until);
      this.#waiting.push(d.until, env.id);
      return;
    }
    this.#waitAt.delete(env.id);
    if (d.kind === 'expire' || pendingNotice(env)) {
      this.#readyOther.add(env.id);
      this.#readyWhere.set(env.id, 'other');
      return;
    }
    const route = routeKey(env.route);
    let byMessage = this.#readyDeliver.get(route);
    if (!byMessage) this.#readyDeliver.set(route, (byMessage = new Map()));
    let ids = byMessage.get(env.messageId);
    if (!ids) byMessage.set(env.messageId, (ids = new Set()));
    ids.add(env.id);
    this.#readyWhere.set(env.id, { route, messageId: env.messageId });
  }

  #unready(id: EnvelopeId): void {
    const where = this.#readyWhere.get(id);
    if (where === undefined) return;
    this.#readyWhere.delete(id);
    if (where === 'other') {
      this.#readyOther.delete(id);
      return;
    }
    const byMessage = this.#readyDeliver.get(where.route);
    const ids = byMessage?.get(where.messageId);
    if (!byMessage || !ids) return;
    ids.delete(id);
    if (ids.size === 0) byMessage.delete(where.messageId);
    if (byMessage.size === 0) this.#readyDeliver.delete(where.route);
  }

  /** Makes envelopes due now (all when id is undefined; held ones stay held). Returns how many. */
  async flush(id?: string): Promise<number> {
    let n = 0;
    for (const env of this.#matching(id)) {
      if (env.held || this.#busy.has(env.id)) continue;
      if (env.nextAttemptAt !== 0) await this.#put({ ...env, nextAttemptAt: 0 });
      n++;
    }
    this.wake();
    return n;
  }

  /** Holds a message's (or one envelope's) delivery until released. */
  async hold(id: string): Promise<number> {
    let n = 0;
    for (const env of this.#matching(id)) {
      if (env.held) continue;
      await this.#put({ ...env, held: true });
      n++;
    }
    return n;
  }

  async release(id: string): Promise<number> {
    let n = 0;
    for (const env of this.#matching(id)) {
      if (!env.held) continue;
      await this.#put({ ...env, held: false, nextAttemptAt: 0 });
      n++;
    }
    this.wake();
    return n;
  }

  /** Deletes without notice; an envelope in delivery right now is dropped when its attempt ends. */
  async delete(id: string): Promise<number> {
    let n = 0;
    for (const env of this.#matching(id)) {
      if (this.#busy.has(env.id)) this.#cancelled.add(env.id);
      else await this.#delete(env.id);
      n++;
    }
    return n;
  }

  /** Fails envelopes now (5.0.0): the sender gets a failure notice, then they are removed. */
  async bounce(id: string): Promise<number> {
    let n = 0;
    const now = this.#clock.now();
    for (const env of this.#matching(id)) {
      if (this.#busy.has(env.id)) continue;
      await this.#put({ ...env, held: false, nextAttemptAt: 0, attempts: [...env.attempts, { at: now, status: '5.0.0', error: operatorBounceText }] });
      n++;
    }
    this.wake();
    return n;
  }

  /**
   * Stops taking new work and waits for running requests; after the grace (stopGraceMs), or
   * when `signal` aborts, it aborts them: transports then report "delayed", the attempt is
   * recorded with the local error "shutdown", and the envelopes stay queued, due at once
   * (a stuck next hop must not hold up a stop for its minutes-long timeouts).
   */
  async stop(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    clearInterval(this.#poll);
    clearTimeout(this.#timer);
    const onAbort = (): void => this.#abort.abort();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const grace = this.#jobs.size > 0 ? setTimeout(onAbort, this.#stopGraceMs) : undefined;
    try {
      while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs]);
    } finally {
      clearTimeout(grace);
      signal?.removeEventListener('abort', onAbort);
      this.#state = 'stopped';
      this.#passQueued = false;
      this.#checkIdle();
    }
  }

  #setTimer(at: number, now: number): void {
    if (at >= this.#timerAt && this.#timer) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    // setTimeout's limit is 2^31-1 ms; a later wake-up simply re-arms
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.wake();
    }, Math.min(Math.max(0, at - now), 2 ** 31 - 1));
    this.#timer.unref();
  }

  #pass(): void {
    this.#passQueued = false;
    if (this.#state !== 'running') {
      this.#checkIdle();
      return;
    }
    const now = this.#clock.now();
    // what came due since the last pass
    while (this.#waiting.peek() <= now) {
      const { at, id } = this.#waiting.pop() as { at: number; id: EnvelopeId };
      if (this.#waitAt.get(id) !== at) continue; // superseded
      this.#waitAt.delete(id);
      const env = this.#index.get(id);
      if (env && !this.#busy.has(id)) this.#classify(env, now);
    }
    // notices and expiries: one group per message and kind, no route limit
    if (this.#readyOther.size > 0 && this.#running < this.#concurrency) {
      const groups = new Map<string, Group>();
      for (const id of this.#readyOther) {
        const env = this.#index.get(id);
        if (!env) continue;
        const kind: Group['kind'] = pendingNotice(env) ? 'notice' : 'expire';
        const key = `${kind} ${env.messageId}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { kind, messageId: env.messageId, route: env.route, envelopes: [] }));
        g.envelopes.push(env);
      }
      for (const g of groups.values()) {
        if (this.#running >= this.#concurrency) break;
        this.#launch(g);
      }
    }
    // deliveries: per route, oldest message first, while the limits allow
    for (const [route, byMessage] of this.#readyDeliver) {
      if (this.#running >= this.#concurrency) break;
      for (const [messageId, ids] of byMessage) {
        if (this.#running >= this.#concurrency || (this.#routeJobs.get(route) ?? 0) >= this.#perRoute) break;
        const envelopes: Envelope[] = [];
        for (const id of ids) {
          const env = this.#index.get(id);
          if (env) envelopes.push(env);
        }
        if (envelopes.length === 0) {
          for (const id of [...ids]) this.#unready(id);
          continue;
        }
        this.#launch({ kind: 'deliver', messageId, route: envelopes[0].route, envelopes });
      }
    }
    const next = this.#waiting.peek();
    if (next < Infinity) this.#setTimer(next, now);
    this.#checkIdle();
  }

  #launch(g: Group): void {
    const rk = routeKey(g.route);
    for (const e of g.envelopes) {
      this.#unready(e.id);
      this.#busy.add(e.id);
    }
    this.#running++;
    if (g.kind === 'deliver') this.#routeJobs.set(rk, (this.#routeJobs.get(rk) ?? 0) + 1);
    this.#messageJobs.set(g.messageId, (this.#messageJobs.get(g.messageId) ?? 0) + 1);
    const job = this.#run(g)
      .catch((err: unknown) => this.#publishError(err, 'queue runner'))
      .finally(async () => {
        if (g.kind === 'deliver') {
          const left = (this.#routeJobs.get(rk) ?? 1) - 1;
          if (left > 0) this.#routeJobs.set(rk, left);
          else this.#routeJobs.delete(rk);
        }
        const m = (this.#messageJobs.get(g.messageId) ?? 1) - 1;
        if (m > 0) this.#messageJobs.set(g.messageId, m);
        else {
          this.#messageJobs.delete(g.messageId);
          await this.#sendNotices(g.messageId).catch((err: unknown) => this.#publishError(err, 'notices'));
        }
        // anything still marked busy here had no outcome applied: free it for a later pass
        for (const e of g.envelopes) if (!this.#isPending(g.messageId, e.id)) this.#free(e.id);
        // counted as running until its notices are out, so idle() means "nothing left to do"
        this.#running--;
        this.#jobs.delete(job);
        this.wake();
        this.#checkIdle();
      });
    this.#jobs.add(job);
  }

  #isPending(messageId: MessageId, id: EnvelopeId): boolean {
    return this.#notices.get(messageId)?.some((p) => p.envelope.id === id) ?? false;
  }

  async #run(g: Group): Promise<void> {
    const now = this.#clock.now();
    if (g.kind === 'notice') {
      for (const env of g.envelopes) {
        const last = env.attempts.at(-1);
        const kind = pendingNotice(env);
        if (!last || !kind) continue;
        this.#queueNotice({ kind, envelope: env, result: resultOf(env, last, kind), recorded: true });
      }
      return;
    }
    if (g.kind === 'expire') {
      for (const env of g.envelopes) await this.#expire(env, env.attempts.at(-1), now);
      return;
    }
    const transport = this.#transports.get(g.route.transport);
    const store = this.#store;
    const req: DeliveryRequest = {
      route: g.route,
      messageId: g.messageId,
      sender: g.envelopes[0].sender,
      envelopes: g.envelopes,
      size: g.envelopes[0].size,
      openMessage: () => store.openMessage(g.messageId),
    };
    let results: DeliveryStatus[];
    if (!transport) {
      results = statusForAll(req, 'delayed', '4.3.5', { error: `no transport "${g.route.transport}" configured` });
    } else {
      try {
        results = await transport.deliver(req, this.#abort.signal);
      } catch (err) {
        results = statusForAll(req, 'delayed', '4.3.0', { error: errorText(err) });
      }
    }
    // stopped midway: a local failure without a remote reply (or no result) is the shutdown's doing
    const stopped = this.#abort.signal.aborted;
    if (stopped) {
      results = results.map((r) => (r.action === 'delayed' && r.reply === undefined ? { envelopeId: r.envelopeId, action: 'delayed', status: '4.3.0', error: shutdownError } : r));
    }
    const byId = new Map(results.map((r) => [r.envelopeId, r]));
    const done = this.#clock.now();
    for (const env of g.envelopes) {
      const r = byId.get(env.id) ?? {
        envelopeId: env.id,
        action: 'delayed',
        status: '4.3.0',
        error: stopped ? shutdownError : 'the transport gave no result for this recipient',
      };
      try {
        await this.#apply(env, r, done);
      } catch (err) {
        // the store failed: the envelope stays as it was and is tried again later
        this.#publishError(err, `applying result for ${env.id}`);
      }
    }
  }

  #event(name: string, env: Envelope, r: DeliveryStatus): void {
    const ch = channel(name);
    if (!ch.hasSubscribers) return;
    ch.publish({
      envelopeId: env.id,
      messageId: env.messageId,
      recipient: addressToString(env.recipient),
      route: routeKey(env.route),
      status: r.status,
      action: r.action,
      ...(r.reply && { reply: formatReply(r.reply) }),
      ...(r.remoteMta && { host: r.remoteMta }),
      ...(r.ip && { ip: r.ip }),
      ...(r.error && { error: r.error }),
      attempts: env.attempts.length,
    });
  }

  #publishError(err: unknown, where: string): void {
    const ch = channel(channels.error);
    if (ch.hasSubscribers) ch.publish({ error: err, where });
  }

  async #apply(env: Envelope, r: DeliveryStatus, now: number): Promise<void> {
    if (this.#cancelled.has(env.id)) {
      await this.#delete(env.id);
      return;
    }
    switch (r.action) {
      case 'delivered':
      case 'relayed':
      case 'expanded': {
        const result = { ...r, status: statusOfClass(r.status, 2) };
        this.#event(channels.delivered, env, result);
        // RFC 3461 §6.2: "relayed" notices only when the next hop will not send DSNs itself
        const notice = wants(env, 'success') && (r.action !== 'relayed' || r.remoteDsn === true);
        if (notice) this.#queueNotice({ kind: 'success', envelope: env, result, recorded: false });
        else await this.#delete(env.id);
        return;
      }
      case 'failed': {
        const result = { ...r, status: statusOfClass(r.status, 5) };
        this.#event(channels.bounced, env, result);
        await this.#fail(env, result);
        return;
      }
      default: {
        const status = statusOfClass(r.status, 4);
        const tried: Envelope = { ...env, attempts: [...env.attempts, attemptOf(r, now, status)] };
        if (this.#scheduler.decide(tried, now).kind === 'expire') {
          await this.#expire(tried, tried.attempts.at(-1), now);
          return;
        }
        const held = this.#index.get(env.id)?.held ?? env.held;
        // a delivery cut short by stop() is tried again at once after the restart
        const nextAttemptAt = r.error === shutdownError && this.#abort.signal.aborted ? 0 : this.#scheduler.nextAttempt(tried, now);
        const updated: Envelope = { ...tried, nextAttemptAt, ...(held !== undefined && { held }) };
        await this.#put(updated);
        this.#event(channels.deferred, updated, { ...r, status });
        if (this.#scheduler.delayWarningDue(updated, now)) {
          this.#queueNotice({ kind: 'delay', envelope: updated, result: { ...r, status }, recorded: true });
        }
      }
    }
  }

  /** Gives up: 5.4.7 (RFC 3463 X.4.7 delivery time expired) with the last attempt's details. */
  async #expire(env: Envelope, last: Attempt | undefined, _now: number): Promise<void> {
    const lastText = last?.reply ? formatReply(last.reply) : last?.error;
    const result: DeliveryStatus = {
      envelopeId: env.id,
      action: 'failed',
      status: '5.4.7',
      ...(last?.reply !== undefined && { reply: last.reply }),
      ...(last?.host !== undefined && { remoteMta: last.host }),
      ...(last?.ip !== undefined && { ip: last.ip }),
      error: lastText ? `delivery time expired; last error: ${lastText}` : 'delivery time expired',
    };
    this.#event(channels.expired, env, result);
    await this.#fail(env, result);
  }

  async #fail(env: Envelope, result: DeliveryStatus): Promise<void> {
    if (wants(env, 'failure')) this.#queueNotice({ kind: 'failure', envelope: env, result, recorded: false });
    else await this.#delete(env.id);
  }

  #queueNotice(p: PendingNotice): void {
    let list = this.#notices.get(p.envelope.messageId);
    if (!list) this.#notices.set(p.envelope.messageId, (list = []));
    list.push(p);
  }

  /** Sends the message's buffered notices, one per kind, then settles each envelope. */
  async #sendNotices(messageId: MessageId): Promise<void> {
    const pending = this.#notices.get(messageId);
    if (!pending) return;
    this.#notices.delete(messageId);
    for (const kind of ['failure', 'delay', 'success'] as const) {
      const batch = pending.filter((p) => p.kind === kind);
      if (batch.length === 0) continue;
      let sent = true;
      try {
        const reports: DeliveryReport[] = batch.map((p) => ({ envelope: p.envelope, result: p.result }));
        await this.#notifier.notify(kind, messageId, reports);
      } catch (err) {
        sent = false;
        this.#publishError(err, `${kind} notice for ${messageId}`);
      }
      const now = this.#clock.now();
      for (const p of batch) {
        try {
          await this.#settle(p, sent, now);
        } catch (err) {
          this.#publishError(err, `settling ${p.envelope.id}`);
        } finally {
          this.#free(p.envelope.id);
        }
      }
    }
  }

  async #settle(p: PendingNotice, sent: boolean, now: number): Promise<void> {
    const env = p.envelope;
    if (this.#cancelled.has(env.id)) {
      await this.#delete(env.id);
      return;
    }
    if (p.kind === 'delay') {
      if (sent) await this.#put({ ...(this.#index.get(env.id) ?? env), delayWarnedAt: now });
      return;
    }
    if (sent) {
      await this.#delete(env.id);
      return;
    }
    // the notice failed: keep the envelope, its outcome recorded, and try the notice again later
    const recorded = p.recorded ? env : { ...env, attempts: [...env.attempts, attemptOf(p.result, now, p.result.status)] };
    await this.#put({ ...recorded, nextAttemptAt: this.#scheduler.nextAttempt(recorded, now) });
  }
}
