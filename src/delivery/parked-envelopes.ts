/**
 * @module parked-envelopes
 * Envelopes the queue scheduler parked (waiting longer than `parkAfterMs`: only their time and
 * id kept in memory, issue 19) read back from the store: when their time comes, and when an
 * operator action names them, so that the action sees the envelope as stored.
 * A flush of the whole queue reads them in batches (flushParked): each flushed envelope is
 * stored and parked again as due now, and the scheduler loads due ones as deliveries go.
 * Standards: none.
 * Security: none.
 * Limitations: an envelope the store cannot read now is parked again for `retryMs`.
 */
import { isQueueId, messageIdOfEnvelope, type Clock, type EnvelopeId, type QueueStore, type StatedEnvelope } from '../core/index.js';
import { applyControl, withState, type QueueScheduler } from '../queue/index.js';
import { publishError } from './delivery-events.js';

export interface ParkedLoad {
  readonly store: QueueStore;
  readonly queue: QueueScheduler;
  readonly clock: Clock;
  /** ms before an envelope that could not be read is tried again */
  readonly retryMs: number;
  /** true for an envelope removed while it was being read (it must not come back) */
  readonly removed: (id: EnvelopeId) => boolean;
}

/** Reads `ids` (parked envelopes that came due) and files them; gone ones are forgotten. */
export async function loadParked(p: ParkedLoad, ids: readonly EnvelopeId[], keep = false): Promise<void> {
  for (const id of ids) {
    try {
      const env = await p.store.findEnvelope(id);
      if (p.queue.get(id) !== undefined) continue;
      if (env && !p.removed(id)) p.queue.set(env, p.clock.now(), { keep });
      else p.queue.forget(id);
    } catch (err) {
      publishError(err, `loading ${id}`);
      p.queue.park(id, p.clock.now() + p.retryMs);
    }
  }
}

/**
 * Reads back the parked envelopes a message or envelope id names (all when undefined); a
 * message the runner does not know yet (its start's walk has not reached it) is read whole.
 */
export async function unpark(p: ParkedLoad, id: string | undefined): Promise<void> {
  await loadParked({ ...p, retryMs: 0 }, p.queue.parkedMatching(id), true);
  const messageId = id === undefined ? undefined : isQueueId(id) ? id : messageIdOfEnvelope(id);
  if (messageId === undefined || p.queue.matching(id).length > 0) return;
  for (const env of await p.store.findMessageEnvelopes(messageId)) {
    if (!p.queue.knows(env.id) && !p.removed(env.id)) p.queue.set(env, p.clock.now(), { keep: true });
  }
}

/** Parked envelopes a whole-queue flush reads at once. */
const flushBatch = 500;

/**
 * The parked part of a whole-queue flush (issue 19): read in batches, each flushed envelope
 * stored (`put`) and parked again as due now, so that the scheduler loads them as deliveries go
 * (its loadLimit) rather than all at once. Returns how many it counted (as controlOnline does).
 */
export async function flushParked(p: ParkedLoad, put: (env: StatedEnvelope) => Promise<void>): Promise<number> {
  const ids = p.queue.parkedWaiting();
  let n = 0;
  for (let i = 0; i < ids.length; i += flushBatch) {
    for (const { id, at } of p.queue.claimParked(ids.slice(i, i + flushBatch))) {
      try {
        const env = await p.store.findEnvelope(id);
        if (!env || p.removed(id)) {
          p.queue.forget(id);
          continue;
        }
        const change = applyControl('flush', withState(env), p.clock.now());
        if (change.kind === 'put') await put(change.envelope);
        if (change.kind !== 'skip') n++;
        if (change.kind === 'put') p.queue.park(id, p.clock.now(), change.envelope.state);
        else p.queue.park(id, at);
      } catch (err) {
        publishError(err, `flushing ${id}`);
        p.queue.park(id, at);
      }
    }
  }
  return n;
}
