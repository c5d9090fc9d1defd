/**
 * @module queue-ids
 * Lists of the names of things in the queue, shared by every QueueStore backend: pages of
 * sorted ids and the check of an imported message's ids. The id grammar itself (a message id,
 * an envelope id "<messageId>-<n>") is core/envelope.ts's.
 * Standards: none.
 * Security: an id becomes a file name in the files backend; only ids of this alphabet are
 *   accepted (no "/", no ".", bounded length), so a hostile id never becomes a path.
 * Limitations: none.
 */
import { isQueueId, messageIdOfEnvelope, type EnvelopeId, type MessageId } from '../core/index.js';

/** The ids of sorted `ids` that sort after `after` (all of them when it is undefined). */
export function idsAfter(ids: readonly string[], after: string | undefined): readonly string[] {
  if (after === undefined) return ids;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return ids.slice(lo);
}

/**
 * The first `limit` ids after `after` (all when undefined), sorted, from `sources` in any order
 * and with repeats (a message both in a segment and in its own file): a page of a listing
 * without sorting the whole queue.
 */
export function firstIdsAfter(sources: Iterable<Iterable<string>>, after: string | undefined, limit: number): string[] {
  const out: string[] = [];
  if (limit <= 0) return out;
  for (const source of sources) {
    for (const id of source) {
      if ((after !== undefined && id <= after) || (out.length >= limit && id >= out[out.length - 1])) continue;
      let lo = 0;
      let hi = out.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (out[mid] < id) lo = mid + 1;
        else hi = mid;
      }
      if (out[lo] === id) continue;
      out.splice(lo, 0, id);
      if (out.length > limit) out.pop();
    }
  }
  return out;
}

/** Whether `envelopes` (copied from another backend) all belong to message `id`, with ids of this form. */
export function isImport(id: string, envelopes: readonly { id: EnvelopeId; messageId: MessageId }[]): boolean {
  return isQueueId(id) && envelopes.every((e) => e.messageId === id && messageIdOfEnvelope(e.id) === id);
}
