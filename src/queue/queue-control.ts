/**
 * @module queue-control
 * The operator's view of the spool (list, show; listings page by message id, reading only
 * the messages shown) and the offline QueueControl: actions applied
 * directly on a QueueStore when no server runs, through the same transitions the server's
 * dispatcher uses (envelope-transitions.ts applyControl). An id is a message id (all its
 * envelopes) or an envelope id (that one envelope). Envelopes are returned with their state
 * (withState: given once to envelopes written before states existed).
 * Standards: seed §2 (deferred mail kept and retried); RFC 3464 (bounce = failure notice).
 * Security: these are administrative operations; callers check the operator's rights.
 * Limitations: when the server runs, a change made directly on the store is seen by its
 *   dispatcher at its next poll of the store; the CLI goes through the control socket instead.
 *   Offline, a bounce only records the failure: the notice is sent when the server next runs.
 */
import type { Clock, Envelope, MessageId, QueueControl, QueueStore, ReversePath, StatedEnvelope } from '../core/index.js';
import { systemClock } from '../core/index.js';
import { applyControl, withState, type ControlAction } from './envelope-transitions.js';
import { isQueueId, messageIdOfEnvelope } from './queue-ids.js';

export interface QueuedMessage {
  readonly messageId: MessageId;
  readonly sender: ReversePath;
  readonly arrivedAt: number;
  readonly size: number;
  readonly envelopes: readonly StatedEnvelope[];
}

function matches(env: StatedEnvelope, id: string | undefined): boolean {
  return id === undefined || env.messageId === id || env.id === id;
}

async function collect(store: QueueStore, id?: string): Promise<StatedEnvelope[]> {
  const out: StatedEnvelope[] = [];
  for await (const env of store.walkEnvelopes()) {
    const e = withState(env);
    if (matches(e, id)) out.push(e);
  }
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
}

/** messages read ahead of the one being yielded: each read is a few round trips to storage */
const readAhead = 8;

/**
 * The queued messages in id order (oldest first: an id begins with the time it was made), each
 * read when the walk reaches it, so that a page of the first N reads N messages rather than the
 * whole queue. A message that leaves the queue before it is reached is skipped.
 */
export async function* walkQueue(store: QueueStore, opts: QueueWalkOptions = {}): AsyncIterable<QueuedMessage> {
  const all = await store.listMessageIds();
  const after = opts.after;
  const ids = after === undefined ? all : all.slice(firstAfter(all, after));
  const ahead: Promise<Envelope[]>[] = [];
  let next = 0;
  const read = (): void => {
    const p = store.findMessageEnvelopes(ids[next++]);
    p.catch(() => undefined); // awaited in turn; one failing while the walk stops is not unhandled
    ahead.push(p);
  };
  while (ahead.length < readAhead && next < ids.length) read();
  while (ahead.length > 0) {
    const envs = await ahead.shift()!;
    if (next < ids.length) read();
    if (envs.length === 0) continue;
    const m = messageOf(envs.map(withState));
    if (!opts.filter || opts.filter(m)) yield m;
  }
}

/** The index of the first id (of sorted `ids`) that sorts after `after`. */
function firstAfter(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One page of a listing; `next` (the last id shown) is given when the page is full, so more may follow. */
export interface QueuePage {
  readonly messages: QueuedMessage[];
  readonly next?: MessageId;
}

/** The first `limit` messages of walkQueue(store, opts). */
export async function listQueuePage(store: QueueStore, opts: QueueWalkOptions & { readonly limit: number }): Promise<QueuePage> {
  const messages: QueuedMessage[] = [];
  if (opts.limit <= 0) return { messages };
  for await (const m of walkQueue(store, opts)) {
    messages.push(m);
    if (messages.length >= opts.limit) return { messages, next: m.messageId };
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
