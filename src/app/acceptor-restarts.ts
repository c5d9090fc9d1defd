/**
 * @module acceptor-restarts
 * When an SMTP acceptor process that ended unexpectedly is started again (acceptor-pool.ts):
 * after 1 s, and one that keeps ending within 10 s of its start after 1, 2, 4 … s, at most
 * 60 s, each time with an error line saying how many in a row. Each restart belongs to the set
 * of acceptors its ended one was in (the start's, or a reload's): one whose set no longer serves
 * when its delay is over, or when a reload replaces the set, is dropped (issue 19: it started
 * beside the reload's new set, one process more than configured). The backoff counts the ends
 * of one set: a reload's new set starts afresh (its first end is restarted after 1 s), since an
 * operator who fixed the cause and reloaded expects the fix tried at once, not after the old
 * set's minute; the count of a set that no longer serves is forgotten with its restarts.
 * Standards: none.
 * Security: none (timers only).
 * Limitations: a reload that changes nothing resets the backoff too (its set is new all the
 *   same); acceptors that keep ending are then started again after 1, 2, 4 … s as before.
 */
import type { Logger } from 'pino';

/** an acceptor that ends within this long of its start counts as failing again (backoff) */
const stableMs = 10_000;
const restartMs = 1_000;
const maxRestartMs = 60_000;

/** An acceptor that ended, as the restart needs it. */
export interface Ended {
  readonly pid: number | undefined;
  readonly startedAt: number;
  readonly accepting: boolean;
  readonly error?: string;
  readonly set: number;
}

export class AcceptorRestarts {
  readonly #logger: Logger;
  /** whether acceptors of a set may run */
  readonly #serving: (set: number) => boolean;
  /** per set, its acceptors in a row that ended within stableMs of their start (the backoff's exponent) */
  readonly #quickEnds = new Map<number, number>();
  /** restarts waiting out their delay, with the set they belong to */
  readonly #timers = new Map<NodeJS.Timeout, number>();

  constructor(logger: Logger, serving: (set: number) => boolean) {
    this.#logger = logger;
    this.#serving = serving;
  }

  /** Calls `start` after the backoff, if the set of `a` still serves then. */
  schedule(a: Ended, cause: string, code: number | null, signal: NodeJS.Signals | null, start: () => void): void {
    const { pid, error } = a;
    // a replacement that dies at once (it cannot start, or crashes on every connection) is
    // started again less and less often, not every second forever
    const inARow = !a.accepting || Date.now() - a.startedAt < stableMs ? (this.#quickEnds.get(a.set) ?? 0) + 1 : 0;
    this.#quickEnds.set(a.set, inARow);
    const inMs = Math.min(restartMs * 2 ** Math.max(0, inARow - 1), maxRestartMs);
    if (inARow <= 1) this.#logger.warn({ pid, code, signal, error, inMs, set: a.set }, 'acceptor process ended; starting another');
    else {
      this.#logger.error(
        { pid, code, signal, error, inMs, inARow, set: a.set },
        `acceptor process ended (${cause}), ${inARow} in a row within ${stableMs / 1000} s of their start; starting another in ${inMs / 1000} s (backing off, at most ${maxRestartMs / 1000} s)`,
      );
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#serving(a.set)) start();
    }, inMs).unref();
    this.#timers.set(timer, a.set);
  }

  /** Drops the restarts of sets that no longer serve (a reload replaced or refused them), and their backoff. */
  drop(): void {
    for (const set of this.#quickEnds.keys()) if (!this.#serving(set)) this.#quickEnds.delete(set);
    for (const [timer, set] of this.#timers) {
      if (this.#serving(set)) continue;
      clearTimeout(timer);
      this.#timers.delete(timer);
      this.#logger.warn({ set }, 'a pending acceptor restart dropped: its set no longer serves (a reload replaced or refused it)');
    }
  }

  /** Drops every restart (the pool stops). */
  clear(): void {
    for (const timer of this.#timers.keys()) clearTimeout(timer);
    this.#timers.clear();
    this.#quickEnds.clear();
  }
}
