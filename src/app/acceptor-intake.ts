/**
 * @module acceptor-intake
 * How the server takes in an SMTP acceptor's notice of new envelopes (acceptor-pool.ts,
 * issue 19): each message's record by its place with its body (FsQueueStore.adopt: no scan, no
 * read), else by a refresh of the spool; then the queue runner schedules them.
 * Standards: none.
 * Security: a notice only names records already in the spool; what is scheduled after a refresh
 *   is what the spool holds, not what the notice says.
 * Durability: the envelopes of a record taken by its place are enqueued as never tried
 *   (QueueRunner.enqueue's neverTried: their delivery skips the look for an earlier copy in
 *   cur/ and renames into new/, which would replace one there): no scan had seen the record, so no earlier server could have delivered it, and the
 *   acceptor that wrote it is this server's child, whose pipe reaches no other server.
 * Limitations: the notice is a hint: when it is lost (a killed acceptor, a frame that does not
 *   decode), the rescan at the acceptor's exit and every listing of the queue find its records.
 *   A notice whose place is refused (a scan was past it, or it is known) costs a read of each
 *   such message's envelopes.
 */
import type { Envelope, MessageId } from '../core/index.js';
import type { QueueRunner } from '../delivery/index.js';
import type { FsQueueStore } from '../queue/index.js';
import type { Queued } from './acceptor-notice.js';

export interface IntakeParts {
  readonly store: Pick<FsQueueStore, 'refresh' | 'adopt' | 'findMessageEnvelopes'>;
  readonly runner: Pick<QueueRunner, 'enqueue'>;
}

/**
 * Takes in the envelopes of one notice and schedules them. A message whose place is refused
 * was seen by a scan (a rescan, e.g. the one at the acceptor's exit, may even have delivered it
 * before the notice's bytes were read: the pipe is read apart from the child's 'exit'), so its
 * envelopes are scheduled as the spool holds them after a refresh: none when it was delivered,
 * never the notice's copy again (issue 19: that copy's delivery found no message and was
 * deferred, its envelope written back for a message that was gone).
 */
export async function takeIn({ store, runner }: IntakeParts, { envelopes, places, bodies }: Pick<Queued, 'envelopes' | 'places' | 'bodies'>): Promise<void> {
  if (envelopes.length === 0) return;
  const byId = new Map<MessageId, Envelope[]>();
  for (const e of envelopes) {
    const envs = byId.get(e.messageId);
    if (envs) envs.push(e);
    else byId.set(e.messageId, [e]);
  }
  const adopted: Envelope[] = [];
  const refused: MessageId[] = [];
  for (const [id, envs] of byId) {
    const ref = places.get(id);
    if (ref && (await store.adopt(id, ref, envs, bodies.get(id)))) adopted.push(...envs);
    else refused.push(id);
  }
  // no scan had seen these records and the acceptor that wrote them is this process's child:
  // no delivery of them can have been stored, by this process or an earlier one
  runner.enqueue(adopted, { neverTried: true });
  if (refused.length > 0) {
    // a message in a file of its own, or one a scan has been past: as the spool has it now
    await store.refresh();
    const found: Envelope[] = [];
    for (const id of refused) found.push(...(await store.findMessageEnvelopes(id)));
    runner.enqueue(found);
  }
}
