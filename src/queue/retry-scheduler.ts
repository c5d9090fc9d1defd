/**
 * @module retry-scheduler
 * The default Scheduler: new envelopes at once, then retries whose interval grows with the
 * time in queue (about doubling), clamped to [retryMin, retryMax]; expiry after
 * maxQueueLifetime; one delay warning after delayWarning.
 * Standards: RFC 5321 §4.5.4.1 (retry intervals, give up after 4-5 days); RFC 3461 §4.1
 *   (NOTIFY: DELAY warnings only when asked for or by default, never with NEVER).
 * Security: none. Pure: no I/O, no clock of its own (callers pass `now`).
 * Limitations: no per-domain policy.
 */
import type { Envelope, ScheduleDecision, Scheduler } from '../core/index.js';
import { ageBackoff } from '../util/index.js';

export interface RetrySchedulerOptions {
  /** ms; first retry interval (config retry_min, default 5m) */
  retryMin: number;
  /** ms; largest retry interval (config retry_max, default 1h) */
  retryMax: number;
  /** ms from arrival after which a temporarily failing envelope is bounced (default 3d) */
  maxQueueLifetime: number;
  /** ms from arrival after which one delay warning is sent; 0 disables (default 4h) */
  delayWarning: number;
}

export const defaultRetryOptions: RetrySchedulerOptions = {
  retryMin: 5 * 60_000,
  retryMax: 60 * 60_000,
  maxQueueLifetime: 3 * 86_400_000,
  delayWarning: 4 * 3_600_000,
};

export class RetryScheduler implements Scheduler {
  readonly options: RetrySchedulerOptions;

  constructor(options: Partial<RetrySchedulerOptions> = {}) {
    const o = { ...defaultRetryOptions, ...options };
    for (const [k, v] of Object.entries(o)) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`scheduler option ${k} must be a non-negative number of ms`);
    }
    if (o.retryMax < o.retryMin) throw new RangeError('scheduler option retryMax must not be less than retryMin');
    this.options = o;
  }

  #expiresAt(env: Envelope): number {
    return env.arrivedAt + this.options.maxQueueLifetime;
  }

  decide(env: Envelope, now: number): ScheduleDecision {
    if (env.state === 'held') return { kind: 'held' };
    const expires = this.#expiresAt(env);
    // Postfix's rule: give up only after an attempt made at or past the end of the lifetime
    // failed, so mail whose destination came back (or queued while we were down) gets a last try.
    const last = env.attempts.at(-1);
    if (last && last.at >= expires) return { kind: 'expire' };
    if (env.nextAttemptAt <= now || now >= expires) return { kind: 'deliver' };
    return { kind: 'wait', until: env.nextAttemptAt };
  }

  nextAttempt(env: Envelope, now: number): number {
    const { retryMin, retryMax } = this.options;
    const age = Math.max(0, now - env.arrivedAt);
    const next = now + ageBackoff(age, retryMin, retryMax);
    // the last try happens at the end of the lifetime, not a whole interval after it
    const expires = this.#expiresAt(env);
    return now < expires ? Math.min(next, expires) : next;
  }

  delayWarningDue(env: Envelope, now: number): boolean {
    const { delayWarning, maxQueueLifetime } = this.options;
    if (delayWarning <= 0 || delayWarning >= maxQueueLifetime) return false;
    if (env.delayWarnedAt !== undefined || env.state === 'held' || env.attempts.length === 0) return false;
    // a notice about a notice is never sent (the null sender gets no delay warnings)
    if (env.sender === null) return false;
    const notify = env.dsn.notify;
    if (notify && (notify.includes('NEVER') || !notify.includes('DELAY'))) return false;
    return now - env.arrivedAt >= delayWarning;
  }
}
