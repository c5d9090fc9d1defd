/**
 * @module keyed-mutex
 * In-process mutual exclusion per key: operations on the same key run one after another,
 * operations on different keys run concurrently.
 * Standards: none. Security: none.
 * Limitations: one process only; it does not lock against other processes.
 */

const settled = Promise.resolve();

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` once every earlier `run` with the same key has settled (in a later microtask, also
   * when none is running). `fn`'s own promise is given back; the key is let go in a reaction
   * attached before the caller's, so a caller that awaits it finds the key free as before. Two
   * promises per run (an async function awaiting, with a try and a catch promise, made six: an
   * IMAP APPEND runs through here under its folder's lock, issue 14).
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.#tails.get(key) ?? settled).then(fn, fn);
    const end = (): void => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    const tail = next.then(end, end);
    this.#tails.set(key, tail);
    return next;
  }

  /** Whether some operation holds or waits for `key`. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }
}
