/**
 * @module slot-heap
 * The parked set's min-heap (parked-set.ts): slot numbers ordered by their times, kept in typed
 * arrays, with each slot's place in the heap so that any slot can be taken out in O(log n) (a
 * parked envelope filed or parked again before its time). The times are the parked set's own
 * array, passed to each call (it is reallocated as the set grows).
 * Standards: none.
 * Security: none.
 * Limitations: none.
 */

export class SlotHeap {
  #heap = new Int32Array(0);
  /** each slot's place in #heap, -1 when not in it */
  #pos = new Int32Array(0);
  #size = 0;

  /** the slot with the earliest time, -1 when empty */
  peek(): number {
    return this.#size > 0 ? this.#heap[0] : -1;
  }

  has(slot: number): boolean {
    return this.#pos[slot] >= 0;
  }

  /** room for slots below `capacity`; a new slot is out of the heap */
  grow(capacity: number): void {
    const heap = new Int32Array(capacity);
    heap.set(this.#heap);
    this.#heap = heap;
    const pos = new Int32Array(capacity).fill(-1);
    pos.set(this.#pos);
    this.#pos = pos;
  }

  push(slot: number, at: Float64Array): void {
    const i = this.#size++;
    this.#heap[i] = slot;
    this.#pos[slot] = i;
    this.#siftUp(i, at);
  }

  remove(slot: number, at: Float64Array): void {
    const i = this.#pos[slot];
    if (i < 0) return;
    this.#pos[slot] = -1;
    const last = this.#heap[--this.#size];
    if (i === this.#size) return;
    this.#heap[i] = last;
    this.#pos[last] = i;
    this.#siftDown(this.#siftUp(i, at), at);
  }

  #siftUp(i: number, at: Float64Array): number {
    const h = this.#heap;
    const slot = h[i];
    const t = at[slot];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (at[h[p]] <= t) break;
      h[i] = h[p];
      this.#pos[h[i]] = i;
      i = p;
    }
    h[i] = slot;
    this.#pos[slot] = i;
    return i;
  }

  #siftDown(i: number, at: Float64Array): void {
    const h = this.#heap;
    const n = this.#size;
    const slot = h[i];
    const t = at[slot];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && at[h[l + 1]] < at[h[l]] ? l + 1 : l;
      if (at[h[c]] >= t) break;
      h[i] = h[c];
      this.#pos[h[i]] = i;
      i = c;
    }
    h[i] = slot;
    this.#pos[slot] = i;
  }
}
