/**
 * @module queue-control
 * The operator's view of the spool (list, show) and the offline QueueControl: actions applied
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
import type { Clock, MessageId, QueueControl, QueueStore, ReversePath, StatedEnvelope } from '../core/index.js';
import { systemClock } from '../core/index.js';
import { applyControl, withState, type ControlAction } from './envelope-transitions.js';

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

/** Every queued message with its envelopes, oldest first. */
export async function listQueue(store: QueueStore): Promise<QueuedMessage[]> {
  const byMessage = new Map<MessageId, StatedEnvelope[]>();
  for (const env of await collect(store)) {
    let list = byMessage.get(env.messageId);
    if (!list) byMessage.set(env.messageId, (list = []));
    list.push(env);
  }
  return [...byMessage.values()]
    .map(messageOf)
    .sort((a, b) => a.arrivedAt - b.arrivedAt || (a.messageId < b.messageId ? -1 : 1));
}

/** The envelopes a message or envelope id names (empty when none). */
export function findQueued(store: QueueStore, id: string): Promise<StatedEnvelope[]> {
  return collect(store, id);
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
