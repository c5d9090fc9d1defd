/**
 * @module batch-claim
 * How a node's queue runner takes part in a queue shared by several nodes (a QueueStore with
 * `leases`, the PostgreSQL backend). Each node keeps its own in-memory QueueScheduler, fed by
 * its own commits and by rescans of the store; before a batch runs, its envelopes are claimed.
 * An envelope is delivered only when its lease was won *and* it is stored as this node last
 * saw it: one changed meanwhile (another node tried it, an operator held it) is stale here, so
 * its lease is given back and the runner files the stored version instead. One another node
 * holds, or that is gone, is dropped from the batch (a later rescan brings it back if it is
 * still queued, e.g. once the other node's lease has run out).
 * Standards: none.
 * Security: none.
 * Limitations: discovery of envelopes committed on other nodes is by rescan (the runner's
 *   poll interval), not by notification.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Envelope, EnvelopeId, EnvelopeLeases, StatedEnvelope } from '../core/index.js';
import { withState, type Batch, type QueueScheduler } from '../queue/index.js';
import { publishError } from './delivery-events.js';

export interface ClaimOutcome {
  /** the envelopes of the batch this node now holds, unchanged */
  readonly claimed: StatedEnvelope[];
  /** stored versions that differ from this node's (their leases already given back) */
  readonly stale: Envelope[];
  /** held by another node, or no longer queued */
  readonly elsewhere: EnvelopeId[];
}

/** The envelope as storage keeps it (JSON: no undefined fields), for comparison with a stored one. */
function asStored(env: Envelope): unknown {
  return JSON.parse(JSON.stringify(env)) as unknown;
}

export async function claimBatch(leases: EnvelopeLeases, envelopes: readonly StatedEnvelope[]): Promise<ClaimOutcome> {
  const won = new Map((await leases.claim(envelopes.map((e) => e.id))).map((e) => [e.id, e]));
  const out = { claimed: [] as StatedEnvelope[], stale: [] as Envelope[], elsewhere: [] as EnvelopeId[] };
  for (const env of envelopes) {
    const stored = won.get(env.id);
    if (stored === undefined) out.elsewhere.push(env.id);
    else if (isDeepStrictEqual(asStored(withState(stored)), asStored(env))) out.claimed.push(env);
    else out.stale.push(stored);
  }
  if (out.stale.length > 0) await leases.release(out.stale.map((e) => e.id));
  return out;
}

/**
 * The part of batch `b` this node won, with the scheduler told the rest: envelopes held
 * elsewhere are forgotten until a rescan, stale ones filed as stored. Undefined when nothing was
 * won; 'failed' when the store could not be asked (nothing was claimed).
 */
export async function claimForQueue(leases: EnvelopeLeases, queue: QueueScheduler, b: Batch, now: number): Promise<Batch | undefined | 'failed'> {
  try {
    const c = await claimBatch(leases, b.envelopes);
    for (const id of c.elsewhere) queue.forget(id);
    for (const env of c.stale) queue.set(env, now);
    return c.claimed.length === 0 ? undefined : { ...b, envelopes: c.claimed };
  } catch (err) {
    publishError(err, 'claiming envelopes');
    return 'failed';
  }
}
