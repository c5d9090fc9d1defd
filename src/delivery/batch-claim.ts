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
import { withState } from '../queue/index.js';

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
