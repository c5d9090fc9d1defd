/**
 * @module keyed-mutex
 * In-process mutual exclusion per key: operations on the same key run one after another,
 * operations on different keys run concurrently.
 * Standards: none. Security: none.
 * Limitations: one process only; it does not lock against other processes.
 */

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier `run` with the same key has settled. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Whether some operation holds or waits for `key`. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }
}
