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
import type { QueueScheduler } from '../queue/index.js';

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
  // what is listed and not known is read; a million parked ids are gone through one at a time
  // (no array or set of them: issue 19), first to forget those whose message is gone, then to
  // strike the known messages off the listing
  const listed = new Set(await store.listMessageIds());
  const gone: EnvelopeId[] = [];
  for (const env of queue.envelopes()) if (!listed.has(env.messageId)) gone.push(env.id);
  for (const [id, messageId] of queue.parkedWithMessageIds()) if (!listed.has(messageId)) gone.push(id);
  for (const id of gone) if (!keep(id)) queue.forget(id);
  for (const env of queue.envelopes()) listed.delete(env.messageId);
  for (const [, messageId] of queue.parkedWithMessageIds()) listed.delete(messageId);
  for (const id of listed) {
    for (const env of await store.findMessageEnvelopes(id)) if (!keep(env.id)) queue.set(env, now());
  }
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
