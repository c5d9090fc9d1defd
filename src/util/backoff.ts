/**
 * @module backoff
 * Retry delay math: exponential growth clamped to [min, max], with optional jitter.
 * Standards: RFC 5321 §4.5.4.1 (retry intervals grow; at least 30 minutes is recommended).
 * Security: none. Limitations: none.
 */

/**
 * Delay before attempt number `attempt` (1 = first retry): min·2^(attempt-1), clamped to
 * [min, max]. `jitter` in [0, 1) spreads retries by up to that fraction (pass a random source).
 */
export function exponentialBackoff(attempt: number, min: number, max: number, jitter = 0, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = n > 60 ? max : min * 2 ** (n - 1);
  const base = clamp(raw, min, max);
  if (jitter <= 0) return base;
  return clamp(Math.round(base * (1 - jitter * random())), min, max);
}

/**
 * Delay that grows with time in queue (Postfix's rule): about the age of the message, so each
 * wait roughly doubles the age, clamped to [min, max].
 */
export function ageBackoff(age: number, min: number, max: number): number {
  return clamp(age, min, max);
}

export function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), Math.max(min, max));
}
