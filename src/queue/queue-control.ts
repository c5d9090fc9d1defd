/**
 * @module queue-control
 * The operator's view of the spool (list, show; listings page by message id, reading only
 * the messages shown and one more, to tell whether a next page exists) and the offline
 * QueueControl: actions applied directly on a QueueStore when no server runs, through the same
 * transitions the server's dispatcher uses (envelope-transitions.ts applyControl). An id is a
 * message id (all its envelopes) or an envelope id (that one envelope). Envelopes are returned
 * with their state (withState: given once to envelopes written before states existed).
 * Standards: seed §2 (deferred mail kept and retried); RFC 3464 (bounce = failure notice).
 * Security: these are administrative operations; callers check the operator's rights.
 * Limitations: when the server runs, a change made directly on the store is seen by its
 *   dispatcher at its next poll of the store; the CLI goes through the control socket instead.
 *   Offline, a bounce only records the failure: the notice is sent when the server next runs.
 */
import type { Clock, MessageId, QueueControl, QueueStore, ReversePath, StatedEnvelope } from '../core/index.js';
import { isQueueId, messageIdOfEnvelope, systemClock } from '../core/index.js';
import { applyControl, withState, type ControlAction } from './envelope-transitions.js';

export interface QueuedMessage {
  readonly messageId: MessageId;
  readonly sender: ReversePath;
  readonly arrivedAt: number;
  readonly size: number;
  readonly envelopes: readonly StatedEnvelope[];
}

/** Whether `id` names this envelope or its message. */
function matches(env: StatedEnvelope, id: string): boolean {
  return env.messageId === id || env.id === id;
}

/** Every envelope of the queue (id undefined), or those `id` names: that one message read, not the queue. */
async function collect(store: QueueStore, id?: string): Promise<StatedEnvelope[]> {
  if (id !== undefined) return findQueued(store, id);
  const out: StatedEnvelope[] = [];
  for await (const env of store.walkEnvelopes()) out.push(withState(env));
  return out;
}

function messageOf(envs: readonly StatedEnvelope[]): QueuedMessage {
  return { messageId: envs[0].messageId, sender: envs[0].sender, arrivedAt: envs[0].arrivedAt, size: envs[0].size, envelopes: envs };
}

/** Which messages a listing shows, from where. */
export interface QueueWalkOptions {
  /** only messages whose id sorts after this (exclusive): the last id of the previous page, or a time's id prefix */
  readonly after?: string;
  /** only messages this accepts */
  readonly filter?: (m: QueuedMessage) => boolean;
  /** the messages the caller reads at most (a page): a hint for the store */
  readonly limit?: number;
}

/**
 * The queued messages in id order (oldest first: an id begins with the time it was made), read
 * as the walk reaches them (the store's walk from `after`), so that a page of the first N
 * reads N messages rather than the whole queue. A message that leaves the queue meanwhile is
 * skipped.
 */
export async function* walkQueue(store: QueueStore, opts: QueueWalkOptions = {}): AsyncIterable<QueuedMessage> {
  let envs: StatedEnvelope[] = [];
  const take = (): QueuedMessage | undefined => {
    if (envs.length === 0) return undefined;
    const m = messageOf(envs);
    envs = [];
    return !opts.filter || opts.filter(m) ? m : undefined;
  };
  // a page without a filter needs only its first messages: the store may list only those
  const hint = opts.filter || opts.limit === undefined ? undefined : opts.limit;
  for await (const env of store.walkEnvelopes(opts.after, hint)) {
    if (envs.length > 0 && envs[0].messageId !== env.messageId) {
      const m = take();
      if (m) yield m;
    }
    envs.push(withState(env));
  }
  const m = take();
  if (m) yield m;
}

/** One page of a listing; `next` (the last id shown) is given only when at least one more message follows it. */
export interface QueuePage {
  readonly messages: QueuedMessage[];
  readonly next?: MessageId;
}

/** Messages listed beyond a page, read only when some of the page left the queue meanwhile. */
export const pageSlack = 8;

/**
 * The first `limit` messages of walkQueue(store, opts). Without a filter one more is read (not
 * shown) to know whether a next page exists: a page that ends the queue exactly has no `next`.
 * With a filter a full page gives `next` at once (more may follow): finding whether one more
 * message matches could read the rest of the queue, and a page is read in O(page) (issue 19).
 */
export async function listQueuePage(store: QueueStore, opts: QueueWalkOptions & { readonly limit: number }): Promise<QueuePage> {
  const messages: QueuedMessage[] = [];
  if (opts.limit <= 0) return { messages };
  const wanted = opts.filter ? opts.limit : opts.limit + 1;
  // a few more than the page asked of the store: a message that leaves the queue meanwhile is skipped
  for await (const m of walkQueue(store, { ...opts, limit: opts.limit + pageSlack })) {
    messages.push(m);
    if (messages.length === wanted) break;
  }
  if (messages.length < wanted) return { messages };
  const page = messages.slice(0, opts.limit);
  return { messages: page, next: page[page.length - 1].messageId };
}

/**
 * A page of `limit` messages from `ids` (the running server's page of ids, with pageSlack more:
 * it knows every message without listing the spool), each read here; a message gone meanwhile
 * is skipped, as listQueuePage does, and `next` is given only when one more of `ids` is still
 * queued (read, not shown).
 */
export async function pageOfIds(store: QueueStore, ids: readonly MessageId[], limit: number): Promise<QueuePage> {
  const messages: QueuedMessage[] = [];
  if (limit <= 0) return { messages };
  for (const id of ids) {
    if (messages.length >= limit) {
      if ((await findQueued(store, id)).length > 0) return { messages, next: messages[messages.length - 1].messageId };
      continue;
    }
    const m = await findQueuedMessage(store, id);
    if (m) messages.push(m);
  }
  return { messages };
}

/** Every queued message with its envelopes, oldest first (id order). */
export async function listQueue(store: QueueStore): Promise<QueuedMessage[]> {
  const out: QueuedMessage[] = [];
  for await (const m of walkQueue(store)) out.push(m);
  return out;
}

/** The envelopes a message or envelope id names (empty when none); reads that one message only. */
export async function findQueued(store: QueueStore, id: string): Promise<StatedEnvelope[]> {
  const messageId = isQueueId(id) ? id : messageIdOfEnvelope(id);
  if (messageId === undefined) return [];
  return (await store.findMessageEnvelopes(messageId)).map(withState).filter((e) => matches(e, id));
}

/** One queued message by message or envelope id, or undefined. */
export async function findQueuedMessage(store: QueueStore, id: string): Promise<QueuedMessage | undefined> {
  const envs = await findQueued(store, id);
  if (envs.length === 0) return undefined;
  return messageOf(envs[0].messageId === id ? envs : await findQueued(store, envs[0].messageId));
}

/** QueueControl on the store itself, for the CLI when no server runs. */
export class StoreQueueControl implements QueueControl {
  readonly #store: QueueStore;
  readonly #clock: Clock;

  constructor(store: QueueStore, clock: Clock = systemClock) {
    this.#store = store;
    this.#clock = clock;
  }

  async #apply(action: ControlAction, id: string | undefined): Promise<number> {
    const now = this.#clock.now();
    let n = 0;
    for (const env of await collect(this.#store, id)) {
      const change = applyControl(action, env, now);
      if (change.kind === 'skip') continue;
      if (change.kind === 'put') await this.#store.putEnvelope(change.envelope);
      else if (change.kind === 'delete') await this.#store.deleteEnvelope(env.id);
      n++;
    }
    return n;
  }

  flush(id?: string): Promise<number> {
    return this.#apply('flush', id);
  }
  hold(id: string): Promise<number> {
    return this.#apply('hold', id);
  }
  release(id: string): Promise<number> {
    return this.#apply('release', id);
  }
  delete(id: string): Promise<number> {
    return this.#apply('delete', id);
  }
  bounce(id: string): Promise<number> {
    return this.#apply('bounce', id);
  }
}
