/**
 * @module queue-runner-options
 * How a QueueRunner (queue-runner.ts) is made: its store, retry policy, transports, notifier
 * and limits.
 * Standards: none.
 * Security: none (options only).
 * Limitations: none.
 */
import type { Clock, Notifier, QueueStore, Scheduler, Transport } from '../core/index.js';

export interface QueueRunnerOptions {
  readonly store: QueueStore;
  /** the retry policy */
  readonly scheduler: Scheduler;
  /** by route.transport ("local", "smtp", ...) */
  readonly transports: ReadonlyMap<string, Transport>;
  readonly notifier: Notifier;
  readonly clock?: Clock;
  /** delivery requests running at once, in total (default 20) */
  readonly concurrency?: number;
  /** delivery requests running at once per route (default 20, like Postfix's default_destination_concurrency_limit) */
  readonly perRouteConcurrency?: number;
  /** ms between rescans of the store for changes made by other processes (default 30 s, 5 min when the store has watchNew; 0 = never) */
  readonly pollIntervalMs?: number;
  /** ms stop() lets running deliveries finish before aborting them (default 5 s) */
  readonly stopGraceMs?: number;
  /** ms to pause claiming after a shared store failed to claim (default 5 s) */
  readonly claimRetryMs?: number;
  /**
   * an envelope waiting longer than this is parked: only its time and id stay in memory, and it
   * is read from the store again when due (default 5 min; Infinity keeps every envelope)
   */
  readonly parkAfterMs?: number;
  /** due envelopes in memory (ready or being read) beyond which due parked ones wait to be read (default 10,000) */
  readonly loadLimit?: number;
}
