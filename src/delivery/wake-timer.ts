/**
 * @module wake-timer
 * The dispatcher's one timer: armed for the earliest time something comes due (an envelope's
 * next attempt, the end of a claim pause), moved only when an earlier time is asked for, and
 * not keeping the process alive (unref).
 * Standards: none.
 * Security: none.
 * Limitations: setTimeout's limit is 2^31-1 ms (about 24.8 days); a later time fires early and
 *   the dispatcher's pass simply arms the timer again.
 */
export class WakeTimer {
  #timer: NodeJS.Timeout | undefined;
  #at = Infinity;

  constructor(private readonly fire: () => void) {}

  /** Fires at `at` (ms since the epoch, `now` being the current time) unless already set earlier. */
  set(at: number, now: number): void {
    if (at >= this.#at && this.#timer) return;
    clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = Infinity;
      this.fire();
    }, Math.min(Math.max(0, at - now), 2 ** 31 - 1));
    this.#timer.unref();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }
}
