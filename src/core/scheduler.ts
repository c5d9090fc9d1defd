/**
 * @module scheduler
 * The retry policy (Scheduler): when each envelope is tried, warned about or expired, from its
 * own times only; pure, with the clock passed in (`now`), so "bounce after 3 days" is tested
 * without waiting 3 days. The in-memory queue that asks it (ready, waiting, held, running per
 * route) is queue/queue-scheduler.ts; what changes an envelope's state is
 * queue/envelope-transitions.ts.
 * Standards: RFC 5321 §4.5.4.1 (retry at least 30 minutes apart, give up after 4-5 days).
 * Security: none.
 * Limitations: none.
 */
import type { Envelope } from './envelope.js';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type ScheduleDecision =
  | { kind: 'wait'; until: number }
  | { kind: 'deliver' }
  | { kind: 'expire' }
  | { kind: 'held' };

export interface Scheduler {
  decide(env: Envelope, now: number): ScheduleDecision;
  /** when to try again after a temporary failure */
  nextAttempt(env: Envelope, now: number): number;
  /** whether a delay warning is due now */
  delayWarningDue(env: Envelope, now: number): boolean;
}
