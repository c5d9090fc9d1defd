/**
 * @module backoff
 * Retry delay math: a delay that grows with the time in queue, clamped to [min, max].
 * Standards: RFC 5321 §4.5.4.1 (retry intervals grow; at least 30 minutes is recommended).
 * Security: none. Limitations: none.
 */

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
