/**
 * @module store-rescan
 * How the queue runner learns what other processes did to the store (issue 19): a store shared
 * by several nodes (`leases`) is asked what changed since the last rescan when it can tell
 * (changesSince), else read whole, since another node may change any envelope. A store with one
 * runner (the files spool) is only listed: other processes add messages there (`sendmail`) but
 * change queued ones only through the runner (the control socket), so only messages the runner
 * does not know are read and those gone are forgotten; a queue of 100,000 deferred messages is
 * not read again at every poll or wake-up.
 * Standards: none.
 * Security: none.
 * Limitations: an envelope for which `keep` says true (busy, or changed by the runner while the
 *   rescan ran) is left as the runner has it.
 */
import type { EnvelopeId, MessageId, QueueStore } from '../core/index.js';
import { MessageIdSet, type QueueScheduler } from '../queue/index.js';

export interface RescanInput {
  readonly store: QueueStore;
  readonly queue: QueueScheduler;
  /** the shared store's change cursor where this rescan starts */
  readonly cursor: string | undefined;
  /** true for envelopes the rescan must leave as they are */
  readonly keep: (id: EnvelopeId) => boolean;
  readonly now: () => number;
}

/** Files what changed in the store into the scheduler; returns the cursor for the next rescan. */
export async function rescanStore(r: RescanInput): Promise<string | undefined> {
  const { store, queue, keep, now } = r;
  const leases = store.leases;
  const changes = await leases?.changesSince?.(r.cursor);
  if (changes && !changes.full) {
    // only what changed since the last rescan (and leases of dead nodes run out)
    for (const env of changes.changed) if (!keep(env.id)) queue.set(env, now());
    for (const id of changes.gone) if (!keep(id)) queue.forget(id);
    return changes.cursor;
  }
  if (leases) {
    const seen = new Set<EnvelopeId>();
    for await (const env of store.walkEnvelopes()) {
      seen.add(env.id);
      if (!keep(env.id)) queue.set(env, now());
    }
    for (const id of queue.ids()) if (!seen.has(id) && !keep(id)) queue.forget(id);
    // taken before the walk: what changed during it comes again at the next rescan
    return changes?.cursor;
  }
  // the messages the runner knows when the listing starts, in a compact set (issue 19: a
  // million ids were listed into an array and a Set of strings, ~270 MB at the peak of a
  // restart); the listing, read as a stream, marks those it holds and reads those not known.
  // Only a message known at the start can be gone: one queued while the listing runs may be
  // past the stream's place, unlisted yet not gone
  const known = new MessageIdSet();
  for (const env of queue.envelopes()) known.add(env.messageId);
  for (const [, messageId] of queue.parkedWithMessageIds()) known.add(messageId);
  for await (const id of store.scanMessageIds?.() ?? (await store.listMessageIds())) {
    if (known.mark(id)) continue;
    for (const env of await store.findMessageEnvelopes(id)) if (!keep(env.id)) queue.set(env, now());
  }
  const gone: EnvelopeId[] = [];
  const isGone = (messageId: MessageId): boolean => known.has(messageId) && !known.marked(messageId);
  for (const env of queue.envelopes()) if (isGone(env.messageId)) gone.push(env.id);
  for (const [id, messageId] of queue.parkedWithMessageIds()) if (isGone(messageId)) gone.push(id);
  for (const id of gone) if (!keep(id)) queue.forget(id);
  return r.cursor;
}

/**
 * The messages a store's watch named (QueueStore.watchNew): each read, and its envelopes the
 * scheduler does not know filed; known ones are left as the runner has them (it changed them).
 */
export async function readNoticed(r: Omit<RescanInput, 'cursor'>, ids: Iterable<MessageId>): Promise<void> {
  for (const id of ids) {
    for (const env of await r.store.findMessageEnvelopes(id)) {
      if (!r.queue.knows(env.id) && !r.keep(env.id)) r.queue.set(env, r.now());
    }
  }
}
