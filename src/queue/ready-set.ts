/**
 * @module ready-set
 * The scheduler's ready envelopes (queue-scheduler.ts files them here when they come due, and
 * takes batches from here): deliveries by route key, then by message, then envelope id (each
 * level in insertion order, so the oldest message of a route comes first); notices and expiries
 * apart, since no route limit bounds them; and where each id is filed, so an envelope that
 * changes or goes into a batch is unfiled without a search.
 * Standards: none.
 * Security: none.
 * Limitations: ids only; the envelopes are the scheduler's (notice and expiry batches are
 *   built by asking it for each).
 */
import type { EnvelopeId, MessageId, Route, StatedEnvelope } from '../core/index.js';

export interface Batch {
  readonly kind: 'deliver' | 'expire' | 'notice';
  readonly messageId: MessageId;
  readonly route: Route;
  readonly envelopes: readonly StatedEnvelope[];
}

export class ReadySet {
  /** ready for delivery now: route key → message → envelope ids (insertion order = age) */
  readonly #deliver = new Map<string, Map<MessageId, Set<EnvelopeId>>>();
  /** ready now for a notice or an expiry (no route limit) */
  readonly #other = new Set<EnvelopeId>();
  /** where each ready envelope is filed (to unfile it when it changes) */
  readonly #where = new Map<EnvelopeId, { route: string; messageId: MessageId } | 'other'>();

  /** Envelopes ready, of every kind. */
  get size(): number {
    return this.#where.size;
  }

  /** Ready deliveries: route key → message → ids, oldest first; unready() may run while this is walked. */
  get deliveries(): ReadonlyMap<string, ReadonlyMap<MessageId, ReadonlySet<EnvelopeId>>> {
    return this.#deliver;
  }

  /**
   * The ready notices and expiries, one batch per message and kind in the order they were
   * filed; `get` gives each id's envelope (an id it does not know is left out).
   */
  otherBatches(get: (id: EnvelopeId) => StatedEnvelope | undefined): Batch[] {
    if (this.#other.size === 0) return [];
    const groups = new Map<string, { kind: Batch['kind']; messageId: MessageId; route: Route; envelopes: StatedEnvelope[] }>();
    for (const id of this.#other) {
      const env = get(id);
      if (!env) continue;
      const kind: Batch['kind'] = env.state === 'notice-pending' ? 'notice' : 'expire';
      const key = `${kind} ${env.messageId}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { kind, messageId: env.messageId, route: env.route, envelopes: [] }));
      g.envelopes.push(env);
    }
    return [...groups.values()];
  }

  /** Files an envelope ready for delivery under its route (`route`: its key) and message. */
  fileDelivery(env: StatedEnvelope, route: string): void {
    let byMessage = this.#deliver.get(route);
    if (!byMessage) this.#deliver.set(route, (byMessage = new Map()));
    let ids = byMessage.get(env.messageId);
    if (!ids) byMessage.set(env.messageId, (ids = new Set()));
    ids.add(env.id);
    this.#where.set(env.id, { route, messageId: env.messageId });
  }

  /** Files an envelope ready for a notice or an expiry. */
  fileOther(id: EnvelopeId): void {
    this.#other.add(id);
    this.#where.set(id, 'other');
  }

  /** Unfiles an envelope (nothing when it is not ready). */
  unready(id: EnvelopeId): void {
    const where = this.#where.get(id);
    if (where === undefined) return;
    this.#where.delete(id);
    if (where === 'other') {
      this.#other.delete(id);
      return;
    }
    const byMessage = this.#deliver.get(where.route);
    const ids = byMessage?.get(where.messageId);
    if (!byMessage || !ids) return;
    ids.delete(id);
    if (ids.size === 0) byMessage.delete(where.messageId);
    if (byMessage.size === 0) this.#deliver.delete(where.route);
  }
}
