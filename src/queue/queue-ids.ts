/**
 * @module queue-ids
 * The names of things in the queue, shared by every QueueStore backend: a message id is
 * util's uniqueId (lower-case base32), an envelope id is "<messageId>-<n>" (n from 1, in the
 * order of the recipients given to commit).
 * Standards: none.
 * Security: an id becomes a file name in the files backend; only ids of this alphabet are
 *   accepted (no "/", no ".", bounded length), so a hostile id never becomes a path.
 * Limitations: none.
 */
import type { EnvelopeId, MessageId } from '../core/index.js';

const idPattern = /^[0-9a-z]{1,64}$/;
const envelopeSeparator = '-';

/** Whether `id` has the form of a message id (and so is safe as a file name). */
export function isQueueId(id: string): boolean {
  return idPattern.test(id);
}

/** The id of a message's `index`-th envelope (0-based index; ids count from 1). */
export function envelopeIdOf(messageId: MessageId, index: number): EnvelopeId {
  return `${messageId}${envelopeSeparator}${index + 1}`;
}

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

/** The n of an envelope id "<messageId>-<n>" (its index in the message), or undefined. */
export function envelopeIndexOf(id: EnvelopeId): number | undefined {
  return messageIdOfEnvelope(id) === undefined ? undefined : Number(id.slice(id.lastIndexOf(envelopeSeparator) + 1));
}

/** The message id an envelope id belongs to (envelope ids are "<messageId>-<n>"). */
export function messageIdOfEnvelope(id: EnvelopeId): MessageId | undefined {
  const i = id.lastIndexOf(envelopeSeparator);
  if (i <= 0) return undefined;
  const msg = id.slice(0, i);
  return idPattern.test(msg) && /^\d{1,6}$/.test(id.slice(i + 1)) ? msg : undefined;
}

/** Whether `envelopes` (copied from another backend) all belong to message `id`, with ids of this form. */
export function isImport(id: string, envelopes: readonly { id: EnvelopeId; messageId: MessageId }[]): boolean {
  return isQueueId(id) && envelopes.every((e) => e.messageId === id && messageIdOfEnvelope(e.id) === id);
}
