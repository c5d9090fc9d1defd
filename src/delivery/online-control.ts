/**
 * @module online-control
 * An operator action (flush, hold, release, delete, bounce) applied by the running queue
 * runner to the envelopes a message or envelope id names, through the same transition table as
 * the offline CLI (queue/envelope-transitions.ts applyControl). An envelope in a running batch
 * is left to its outcome: flush, release and bounce skip it, a hold is recorded (a temporary
 * failure keeps it), a delete drops it once the batch ends.
 * Standards: none.
 * Security: none (the control socket decides who may ask).
 * Limitations: parked envelopes must be read back (parked-envelopes.ts unpark) before this runs.
 */
import type { EnvelopeId, StatedEnvelope } from '../core/index.js';
import { applyControl, type ControlAction, type QueueScheduler } from '../queue/index.js';

export interface ControlTarget {
  readonly queue: QueueScheduler;
  readonly now: number;
  readonly put: (env: StatedEnvelope) => Promise<void>;
  readonly remove: (id: EnvelopeId) => Promise<void>;
  /** marks a busy envelope to be dropped when its batch ends */
  readonly cancel: (id: EnvelopeId) => void;
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
