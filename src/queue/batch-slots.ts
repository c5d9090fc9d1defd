/**
 * @module batch-slots
 * The scheduler's concurrency limits (queue-scheduler.ts): the batches running in total and the
 * delivery batches running per route (Postfix's default_process_limit and
 * default_destination_concurrency_limit). A batch takes its slots when the scheduler hands it
 * out and gives them back when the dispatcher says it ended; notices and expiries count only
 * in the total.
 * Standards: none.
 * Security: none.
 * Limitations: this node's batches only (on a shared queue delivery/route-slots.ts counts a
 *   route's batches across nodes); which batch goes next is the scheduler's choice.
 */
import { routeKey } from '../core/index.js';
import type { Batch } from './ready-set.js';

export class BatchSlots {
  readonly #total: number;
  readonly #perRoute: number;
  /** delivery batches running per route key (absent: none) */
  readonly #routeJobs = new Map<string, number>();
  #running = 0;

  constructor(total: number, perRoute: number) {
    this.#total = total;
    this.#perRoute = perRoute;
  }

  /** Batches running. */
  get running(): number {
    return this.#running;
  }

  /** Whether no other batch may start now. */
  get full(): boolean {
    return this.#running >= this.#total;
  }

  /** Whether no other delivery batch may start now on the route (`route`: its key). */
  routeFull(route: string): boolean {
    return this.#running >= this.#total || (this.#routeJobs.get(route) ?? 0) >= this.#perRoute;
  }

  /** A batch starts: it takes a running slot, and a route slot when it delivers. */
  start(batch: Batch): void {
    this.#running++;
    if (batch.kind === 'deliver') {
      const rk = routeKey(batch.route);
      this.#routeJobs.set(rk, (this.#routeJobs.get(rk) ?? 0) + 1);
    }
  }

  /** A batch ended: its running slot (and route slot) is free. */
  end(batch: Batch): void {
    this.#running--;
    if (batch.kind !== 'deliver') return;
    const rk = routeKey(batch.route);
    const left = (this.#routeJobs.get(rk) ?? 1) - 1;
    if (left > 0) this.#routeJobs.set(rk, left);
    else this.#routeJobs.delete(rk);
  }
}
