/**
 * @module online-control
 * An operator action (flush, hold, release, delete, bounce) applied by the running queue
 * runner to the envelopes a message or envelope id names, through the same transition table as
 * the offline CLI (queue/envelope-transitions.ts applyControl). An envelope in a running batch
 * is left to its outcome: flush, release and bounce skip it, a hold is recorded (a temporary
 * failure keeps it), a delete drops it once the batch ends.
 * Standards: none.
 * Security: none (the control socket decides who may ask).
 * operatorAction reads parked envelopes back first (parked-envelopes.ts): those an id names at
 * once, and for a whole-queue flush all of them in batches, after those in memory.
 * Limitations: none.
 */
import type { EnvelopeId, StatedEnvelope } from '../core/index.js';
import { applyControl, type ControlAction, type QueueScheduler } from '../queue/index.js';
import { flushParked, unpark, type ParkedLoad } from './parked-envelopes.js';

export interface ControlTarget {
  readonly queue: QueueScheduler;
  readonly now: number;
  readonly put: (env: StatedEnvelope) => Promise<void>;
  readonly remove: (id: EnvelopeId) => Promise<void>;
  /** marks a busy envelope to be dropped when its batch ends */
  readonly cancel: (id: EnvelopeId) => void;
}

/** controlOnline with the parked envelopes read back; `flushed` stores a parked envelope a whole-queue flush changed. */
export async function operatorAction(
  t: ControlTarget & { readonly parked: ParkedLoad; readonly flushed: (env: StatedEnvelope) => Promise<void> },
  action: ControlAction,
  id: string | undefined,
): Promise<number> {
  const whole = action === 'flush' && id === undefined;
  if (!whole) await unpark(t.parked, id);
  const n = await controlOnline(t, action, id);
  return whole ? n + (await flushParked(t.parked, t.flushed)) : n;
}

/** Applies `action` to what `id` names (every envelope when undefined); how many it counted. */
export async function controlOnline(t: ControlTarget, action: ControlAction, id: string | undefined): Promise<number> {
  let n = 0;
  for (const env of t.queue.matching(id)) {
    const busy = t.queue.isBusy(env.id);
    if (busy && action === 'delete') {
      t.cancel(env.id);
      n++;
      continue;
    }
    if (busy && action !== 'hold') continue;
    const change = applyControl(action, env, t.now);
    if (change.kind === 'skip') continue;
    if (change.kind === 'put') await t.put(change.envelope);
    else if (change.kind === 'delete') await t.remove(env.id);
    n++;
  }
  return n;
}
