/**
 * @module turn-memo
 * Answers kept for one turn of the event loop: a burst of work that starts together (deliveries
 * resumed by one fsync, an APPEND's checks) asks once, and the next turn asks again, so a change
 * made by another program is seen from the next turn on.
 * Standards: none (Node's event loop: a setImmediate callback runs after the current turn's I/O
 *   callbacks and microtasks).
 * Security: nothing kept outlives the turn.
 * Limitations: a change made within the turn is not seen by the answers of that turn.
 */

/**
 * Marks `memo` as a turn's memory before something is put in it: when it is empty, its clearing
 * is scheduled for the end of the turn (one setImmediate per turn that uses it).
 */
export function clearAfterTurn(memo: { readonly size: number; clear(): void }): void {
  if (memo.size === 0) setImmediate(() => memo.clear());
}

/**
 * One value kept for one turn: `read` runs at the first get() of a turn, and the next turn
 * reads again (one setImmediate per turn that asks).
 */
export class TurnValue<T> {
  #value: { readonly v: T } | undefined;
  readonly #forget = (): void => {
    this.#value = undefined;
  };

  constructor(private readonly read: () => T) {}

  get(): T {
    if (this.#value === undefined) {
      this.#value = { v: this.read() };
      setImmediate(this.#forget);
    }
    return this.#value.v;
  }
}
