/**
 * @module route-slots
 * Per-destination concurrency across nodes: on a queue shared by several nodes (a store with
 * `leases.routeSlot`, the PostgreSQL backend), a delivery batch to a network destination (the
 * smtp and lmtp transports) runs only while it holds one of the route's `limit` slots, counted
 * in the database for every node; without a free slot the batch does not start and its
 * envelopes wait a moment (`slotRetryMs`) before they are tried again, with no attempt
 * recorded. Each node's own scheduler still applies the same limit to its own batches.
 * Standards: RFC 5321 §4.5.4.1 (a sender should limit its concurrent connections to one
 *   destination).
 * Security: none.
 * Limitations: a slot is held for a delivery, not for a session kept open afterwards for reuse
 *   (session-pool.ts): a destination may see up to that many idle connections per node; nor
 *   for the QUIT of one that is not kept (sent without waiting for its reply), so a closing
 *   connection may still be open there beside the delivery that took its slot.
 */
import { routeKey, type EnvelopeLeases, type Route } from '../core/index.js';

/** How long envelopes wait when every slot of their route is taken (ms). */
export const slotRetryMs = 1_000;

const limitedTransports = new Set(['smtp', 'lmtp']);

/**
 * A slot of `route` when its deliveries are limited across nodes: its release function,
 * `'busy'` when every slot is taken, or undefined when no slot is needed (a store of one
 * node, or a route that opens no connection).
 */
export async function takeRouteSlot(leases: EnvelopeLeases | undefined, route: Route, limit: number): Promise<(() => Promise<void>) | 'busy' | undefined> {
  if (!leases?.routeSlot || !limitedTransports.has(route.transport)) return undefined;
  return (await leases.routeSlot(routeKey(route), limit)) ?? 'busy';
}
