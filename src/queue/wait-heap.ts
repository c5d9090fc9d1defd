/**
 * @module wait-heap
 * A binary min-heap of (time, envelope id): the scheduler's waiting envelopes by next attempt
 * time. An entry may be superseded (the envelope changed since): the scheduler keeps the time
 * that counts for each id and skips stale entries when they come out.
 * Standards: none. Security: none. Limitations: none.
 */
import type { EnvelopeId } from '../core/index.js';

export class WaitHeap {
  readonly #at: number[] = [];
  readonly #id: EnvelopeId[] = [];

  get size(): number {
    return this.#at.length;
  }

  /** the earliest time, Infinity when empty */
  peek(): number {
    return this.#at.length > 0 ? this.#at[0] : Infinity;
  }

  push(at: number, id: EnvelopeId): void {
    const a = this.#at;
    const d = this.#id;
    let i = a.length;
    a.push(at);
    d.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= at) break;
      a[i] = a[p];
      d[i] = d[p];
      i = p;
    }
    a[i] = at;
    d[i] = id;
  }

  pop(): { at: number; id: EnvelopeId } | undefined {
    const a = this.#at;
    const d = this.#id;
    if (a.length === 0) return undefined;
    const top = { at: a[0], id: d[0] };
    const lastAt = a.pop() as number;
    const lastId = d.pop() as EnvelopeId;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= lastAt) break;
        a[i] = a[c];
        d[i] = d[c];
        i = c;
      }
      a[i] = lastAt;
      d[i] = lastId;
    }
    return top;
  }
}
