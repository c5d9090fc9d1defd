/**
 * @module parked-envelopes
 * Envelopes the queue scheduler parked (waiting longer than `parkAfterMs`: only their time and
 * id kept in memory, issue 19) read back from the store: when their time comes, and when an
 * operator action names them, so that the action sees the envelope as stored.
 * Standards: none.
 * Security: none.
 * Limitations: an envelope the store cannot read now is parked again for `retryMs`; a
 *   `flush` of the whole queue reads every parked envelope back into memory.
 */
import type { Clock, EnvelopeId, QueueStore } from '../core/index.js';
import type { QueueScheduler } from '../queue/index.js';
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

/** Reads back the parked envelopes a message or envelope id names (all when undefined). */
export async function unpark(p: ParkedLoad, id: string | undefined): Promise<void> {
  await loadParked({ ...p, retryMs: 0 }, p.queue.parkedMatching(id), true);
}
