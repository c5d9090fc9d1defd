/**
 * @module scheduler
 * The scheduler decides when each envelope is tried, warned about or expired; it is pure with
 * an injected clock so "bounce after 3 days" is tested without waiting 3 days.
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
