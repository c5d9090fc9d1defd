/**
 * @module batch-run
 * One due batch of the queue runner (queue-runner.ts), from its claim to its stored outcomes:
 * on a shared store the part this node won (batch-claim.ts); a notice batch queues its notices;
 * an expiry batch records each envelope's expiry; a delivery batch takes a slot of its route
 * (route-slots.ts), goes to the transport (delivery-attempt.ts), and every recipient's result
 * is recorded through the pure transitions of queue/envelope-transitions.ts, stored before
 * anything else happens (done → envelope removed; temporary failure → deferred; permanent
 * failure, expiry or NOTIFY=SUCCESS → notice pending, queued for the notice sender).
 * Standards: RFC 5321 §4.5.4.1 (retries), §6.1 (nothing is lost: an outcome is stored first),
 *   RFC 3463 (4.3.0).
 * Security: none beyond the transports'.
 * Limitations: a store that fails while an outcome is recorded leaves the envelope as it was
 *   (tried again later); the runner's state (running batches, idle) stays the runner's.
 */
import type { Clock, DeliveryStatus, EnvelopeId, QueueStore, Scheduler, StatedEnvelope, Transport } from '../core/index.js';
import { applyResult, expire, noticeResult, shutdownError, type Batch, type Outcome, type QueueScheduler } from '../queue/index.js';
import type { NoticeSender } from './notice-sender.js';
import { slotRetryMs, takeRouteSlot } from './route-slots.js';
import { claimForQueue } from './batch-claim.js';
import { attemptDelivery } from './delivery-attempt.js';
import { publishError, publishOutcome } from './delivery-events.js';

/** What a batch's run needs of its queue runner. */
export interface BatchRunContext {
  readonly store: QueueStore;
  /** the retry policy */
  readonly policy: Scheduler;
  readonly transports: ReadonlyMap<string, Transport>;
  readonly clock: Clock;
  readonly queue: QueueScheduler;
  readonly notices: NoticeSender;
  /** delivery batches to route limits across nodes */
  readonly perRoute: number;
  /** aborted when the runner's stop grace is over */
  readonly signal: AbortSignal;
  /** the runner's pause after a shared store could not claim (ms) */
  readonly claimRetryMs: number;
  /** a shared store could not claim: no new batches before `until` */
  pause(until: number): void;
  /** a batch that did not start (no route slot free): its envelopes wait until `at` */
  notBefore(b: Batch, at: number): void;
  /** deleted by the operator while busy */
  cancelled(id: EnvelopeId): boolean;
  /** stores the envelope and files it in the queue */
  put(env: StatedEnvelope): Promise<void>;
  /** removes the envelope from the store and the queue */
  remove(id: EnvelopeId): Promise<void>;
  /** which of `envelopes` were never tried (DeliveryRequest.neverTried), forgotten as they are told */
  takeNeverTried(envelopes: readonly StatedEnvelope[]): ReadonlySet<EnvelopeId> | undefined;
}

/**
 * On a shared store: the part of the batch this node won (batch-claim.ts), or undefined.
 * Envelopes held elsewhere are forgotten until a rescan; stale ones are filed as stored.
 */
async function claim(ctx: BatchRunContext, b: Batch): Promise<Batch | undefined> {
  const leases = ctx.store.leases;
  if (!leases) return b;
  const now = ctx.clock.now();
  const c = await claimForQueue(leases, ctx.queue, b, now);
  // the database is away: nothing was claimed; pause rather than retry in a tight loop
  if (c === 'failed') ctx.pause(now + ctx.claimRetryMs);
  return c === 'failed' ? undefined : c;
}

/** Runs one due batch: its notices, its expiries, or its delivery, each outcome stored. */
export async function runBatch(ctx: BatchRunContext, whole: Batch): Promise<void> {
  const b = await claim(ctx, whole);
  if (b === undefined) return;
  if (b.kind === 'notice') {
    for (const env of b.envelopes) {
      if (env.notice !== undefined) ctx.notices.add({ kind: env.notice, envelope: env, result: noticeResult(env, env.notice) });
    }
    return;
  }
  if (b.kind === 'expire') {
    const now = ctx.clock.now();
    for (const env of b.envelopes) {
      const current = ctx.queue.get(env.id) ?? env;
      await record(ctx, current, () => expire(current, now));
    }
    return;
  }
  // a destination's connection limit holds across the nodes sharing the queue (route-slots.ts)
  const slot = await takeRouteSlot(ctx.store.leases, b.route, ctx.perRoute).catch((err: unknown) => {
    publishError(err, 'taking a route slot');
    return 'busy' as const;
  });
  if (slot === 'busy') {
    ctx.notBefore(whole, ctx.clock.now() + slotRetryMs);
    return;
  }
  const results = await attemptDelivery(b, ctx.transports, ctx.store, ctx.signal, ctx.takeNeverTried(b.envelopes)).finally(() => slot?.().catch((err: unknown) => publishError(err, 'releasing a route slot')));
  const stopped = ctx.signal.aborted;
  const byId = new Map(results.map((r) => [r.envelopeId, r]));
  const done = ctx.clock.now();
  for (const env of b.envelopes) {
    const r: DeliveryStatus = byId.get(env.id) ?? {
      envelopeId: env.id,
      action: 'delayed',
      status: '4.3.0',
      error: stopped ? shutdownError : 'the transport gave no result for this recipient',
    };
    // the envelope as it is now: an operator's hold made during the attempt counts
    const current = ctx.queue.get(env.id) ?? env;
    await record(ctx, current, () => applyResult(current, r, done, ctx.policy, r.error === shutdownError && stopped));
  }
}

/** Stores an outcome (or removes the envelope), logs it, and queues its notice. */
async function record(ctx: BatchRunContext, env: StatedEnvelope, transition: () => Outcome): Promise<void> {
  try {
    if (ctx.cancelled(env.id)) {
      await ctx.remove(env.id);
      return;
    }
    const o = transition();
    // a final outcome is logged as it happens; a deferral once it is stored
    if (o.event !== 'deferred') publishOutcome(o.event, o.subject, o.result);
    if (o.envelope) await ctx.put(o.envelope);
    else await ctx.remove(env.id);
    if (o.event === 'deferred') publishOutcome('deferred', o.subject, o.result);
    if (o.notice && o.envelope) ctx.notices.add({ kind: o.notice, envelope: o.subject, result: o.result });
  } catch (err) {
    // the store failed: the envelope stays as it was and is tried again later
    publishError(err, `applying result for ${env.id}`);
  }
}
