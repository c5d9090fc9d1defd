/**
 * @module queue-control
 * Operator actions on the spool, usable by the CLI whether or not the server runs (they work on
 * any QueueStore): list, show, flush, hold, release, delete, bounce. An id is a message id
 * (all its envelopes) or an envelope id (that one envelope).
 * Standards: seed §2 (deferred mail kept and retried); RFC 3464 (bounce = failure notice).
 * Security: these are administrative operations; callers check the operator's rights.
 * Limitations: when the server runs, a change made directly on the store is seen by its queue
 *   runner at its next poll of the store (QueueRunner.flush etc. act at once).
 */
import type { Envelope, MessageId, QueueStore, ReversePath } from '../core/index.js';

export interface QueuedMessage {
  readonly messageId: MessageId;
  readonly sender: ReversePath;
  readonly arrivedAt: number;
  readonly size: number;
  readonly envelopes: readonly Envelope[];
}

/** The text recorded on envelopes bounced by the operator (`correio queue bounce`). */
export const operatorBounceText = 'message bounced by the administrator';

function matches(env: Envelope, id: string): boolean {
  return env.messageId === id || env.id === id;
}

/** Every queued message with its envelopes, oldest first. */
export async function listQueue(store: QueueStore): Promise<QueuedMessage[]> {
  const byMessage = new Map<MessageId, Envelope[]>();
  for await (const env of store.walkEnvelopes()) {
    let list = byMessage.get(env.messageId);
    if (!list) byMessage.set(env.messageId, (list = []));
    list.push(env);
  }
  return [...byMessage.values()]
    .map((envs) => ({ messageId: envs[0].messageId, sender: envs[0].sender, arrivedAt: envs[0].arrivedAt, size: envs[0].size, envelopes: envs }))
    .sort((a, b) => a.arrivedAt - b.arrivedAt || (a.messageId < b.messageId ? -1 : 1));
}

/** The envelopes a message or envelope id names (empty when none). */
export async function findQueued(store: QueueStore, id: string): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const env of store.walkEnvelopes()) if (matches(env, id)) out.push(env);
  return out;
}

/** One queued message by message or envelope id, or undefined. */
export async function findQueuedMessage(store: QueueStore, id: string): Promise<QueuedMessage | undefined> {
  const envs = await findQueued(store, id);
  if (envs.length === 0) return undefined;
  const all = envs[0].messageId === id ? envs : await findQueued(store, envs[0].messageId);
  return { messageId: all[0].messageId, sender: all[0].sender, arrivedAt: all[0].arrivedAt, size: all[0].size, envelopes: all };
}

async function update(store: QueueStore, id: string | undefined, change: (env: Envelope) => Envelope | undefined): Promise<number> {
  let n = 0;
  for (const env of id === undefined ? await collect(store) : await findQueued(store, id)) {
    const next = change(env);
    if (next) {
      await store.putEnvelope(next);
      n++;
    }
  }
  return n;
}

async function collect(store: QueueStore): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const env of store.walkEnvelopes()) out.push(env);
  return out;
}

/** Makes envelopes due now (all when id is undefined); held ones stay held. Returns how many. */
export function flushQueued(store: QueueStore, id?: string): Promise<number> {
  return update(store, id, (e) => (e.held || e.nextAttemptAt === 0 ? undefined : { ...e, nextAttemptAt: 0 }));
}

/** Holds envelopes: the scheduler skips them until released. */
export function holdQueued(store: QueueStore, id: string): Promise<number> {
  return update(store, id, (e) => (e.held ? undefined : { ...e, held: true }));
}

/** Releases held envelopes and makes them due now. */
export function releaseQueued(store: QueueStore, id: string): Promise<number> {
  return update(store, id, (e) => (e.held ? { ...e, held: false, nextAttemptAt: 0 } : undefined));
}

/** Deletes envelopes without any notice (the message goes with its last envelope). */
export async function deleteQueued(store: QueueStore, id: string): Promise<number> {
  const envs = await findQueued(store, id);
  for (const env of envs) await store.deleteEnvelope(env.id);
  return envs.length;
}

/**
 * Marks envelopes as permanently failed (5.0.0, operator bounce) and due now: the queue runner
 * sends the failure notice to the sender and then removes them.
 */
export function bounceQueued(store: QueueStore, id: string, now: number = Date.now()): Promise<number> {
  return update(store, id, (e) => ({
    ...e,
    held: false,
    nextAttemptAt: 0,
    attempts: [...e.attempts, { at: now, status: '5.0.0', error: operatorBounceText }],
  }));
}

/** Whether an envelope's last attempt is final: 5.x.x (failure notice pending) or 2.x.x (success notice pending). */
export function pendingNotice(env: Envelope): 'failure' | 'success' | undefined {
  const last = env.attempts.at(-1);
  if (!last) return undefined;
  if (last.status.startsWith('5.')) return 'failure';
  if (last.status.startsWith('2.')) return 'success';
  return undefined;
}
