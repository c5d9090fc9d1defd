/**
 * @module chunked-list
 * A list of references kept in chunks (512 at first, split in two past 1,024, merged with a
 * neighbour when one shrinks below 128), with an index of where each chunk ends, so that one
 * step on a long list touches one chunk and the index, not the whole list: `at` is O(log n);
 * `set`, `insert` and `removeAt` copy at most the touched chunk and the index (O(sqrt n)-sized
 * work, about 1,000 references for 100,000 items) the first time after a fork, and then change
 * them in place. `fork` gives a second list sharing every chunk: what either changes later is
 * copied first (copy on write by chunk), so a list handed out (a folder snapshot that sessions
 * share) never changes once forked.
 * Standards: none (a data structure).
 * Security: no input from clients; indexes are checked (out of range: undefined, or a
 *   RangeError for a change).
 * Limitations: a list is not safe to change while it is being iterated; the chunk index is an
 *   array, so its copy is O(n / 512).
 */

const firstChunk = 512;
const maxChunk = 1024;
const minChunk = 128;

export class ChunkedList<T> implements Iterable<T> {
  /** the chunks, none empty */
  #chunks: T[][];
  /** where each chunk ends: #ends[c] is the number of items in chunks 0..c */
  #ends: number[];
  /** whether #chunks and #ends are this list's alone (not shared with a fork) */
  #ownIndex: boolean;
  /** the chunks this list made or copied itself (changed in place) */
  #own: WeakSet<T[]>;

  private constructor(chunks: T[][], ends: number[], ownIndex: boolean, own: WeakSet<T[]>) {
    this.#chunks = chunks;
    this.#ends = ends;
    this.#ownIndex = ownIndex;
    this.#own = own;
  }

  /** A list of `items` (copied into chunks: O(n)). */
  static from<T>(items: Iterable<T>): ChunkedList<T> {
    const chunks: T[][] = [];
    const ends: number[] = [];
    const own = new WeakSet<T[]>();
    let chunk: T[] = [];
    let n = 0;
    for (const x of items) {
      chunk.push(x);
      n++;
      if (chunk.length === firstChunk) {
        chunks.push(chunk);
        own.add(chunk);
        ends.push(n);
        chunk = [];
      }
    }
    if (chunk.length > 0) {
      chunks.push(chunk);
      own.add(chunk);
      ends.push(n);
    }
    return new ChunkedList(chunks, ends, true, own);
  }

  get length(): number {
    return this.#ends.length === 0 ? 0 : this.#ends[this.#ends.length - 1];
  }

  /** The chunk that holds index `i` (0 ≤ i < length). */
  #chunkOf(i: number): number {
    const ends = this.#ends;
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] > i) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  #startOf(c: number): number {
    return c === 0 ? 0 : this.#ends[c - 1];
  }

  /** The item at `i`, or undefined outside the list. */
  at(i: number): T | undefined {
    if (!(i >= 0 && i < this.length)) return undefined;
    const c = this.#chunkOf(i);
    return this.#chunks[c][i - this.#startOf(c)];
  }

  /** A second list of the same items; from now on each copies a chunk before it changes it. */
  fork(): ChunkedList<T> {
    this.#ownIndex = false;
    this.#own = new WeakSet();
    return new ChunkedList(this.#chunks, this.#ends, false, new WeakSet());
  }

  /** The chunk index as this list's own (copied once after a fork). */
  #index(): void {
    if (this.#ownIndex) return;
    this.#chunks = this.#chunks.slice();
    this.#ends = this.#ends.slice();
    this.#ownIndex = true;
  }

  /** Chunk `c` as this list's own, copied first when shared. */
  #chunk(c: number): T[] {
    const chunk = this.#chunks[c];
    if (this.#own.has(chunk)) return chunk;
    this.#index();
    const copy = chunk.slice();
    this.#own.add(copy);
    this.#chunks[c] = copy;
    return copy;
  }

  #check(i: number, top: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < top)) throw new RangeError(`index ${i} outside 0..${top - 1}`);
  }

  /** Replaces the item at `i`. */
  set(i: number, v: T): void {
    this.#check(i, this.length);
    const c = this.#chunkOf(i);
    this.#chunk(c)[i - this.#startOf(c)] = v;
  }

  /** Puts `v` at `i` (0 ≤ i ≤ length), the items from `i` on moving up one. */
  insert(i: number, v: T): void {
    this.#check(i, this.length + 1);
    this.#index();
    if (this.#chunks.length === 0) {
      const chunk = [v];
      this.#own.add(chunk);
      this.#chunks.push(chunk);
      this.#ends.push(1);
      return;
    }
    const c = i === this.length ? this.#chunks.length - 1 : this.#chunkOf(i);
    const chunk = this.#chunk(c);
    chunk.splice(i - this.#startOf(c), 0, v);
    for (let d = c; d < this.#ends.length; d++) this.#ends[d]++;
    if (chunk.length > maxChunk) {
      const tail = chunk.splice(chunk.length >> 1);
      this.#own.add(tail);
      this.#chunks.splice(c + 1, 0, tail);
      this.#ends.splice(c, 0, this.#startOf(c) + chunk.length);
    }
  }

  push(v: T): void {
    this.insert(this.length, v);
  }

  /** Takes out the item at `i` and gives it back. */
  removeAt(i: number): T {
    this.#check(i, this.length);
    this.#index();
    const c = this.#chunkOf(i);
    const chunk = this.#chunk(c);
    const [v] = chunk.splice(i - this.#startOf(c), 1);
    for (let d = c; d < this.#ends.length; d++) this.#ends[d]--;
    if (chunk.length === 0) {
      this.#chunks.splice(c, 1);
      this.#ends.splice(c, 1);
    } else if (chunk.length < minChunk) this.#mergeSmall(c);
    return v;
  }

  /** Chunk `c` (small) joined with a neighbour when both fit in a first-size chunk. */
  #mergeSmall(c: number): void {
    const n = this.#chunks.length;
    const other = c + 1 < n && this.#chunks[c + 1].length + this.#chunks[c].length <= firstChunk ? c + 1 : c > 0 && this.#chunks[c - 1].length + this.#chunks[c].length <= firstChunk ? c - 1 : -1;
    if (other < 0) return;
    const [a, b] = other > c ? [c, other] : [other, c];
    const joined = this.#chunks[a].concat(this.#chunks[b]);
    this.#own.add(joined);
    this.#chunks.splice(a, 2, joined);
    this.#ends.splice(a, 1);
  }

  /** Keeps only the items `keep` accepts (O(n): one pass, new chunks). */
  filterInPlace(keep: (v: T) => boolean): void {
    const next = ChunkedList.from(this.#items(keep));
    this.#chunks = next.#chunks;
    this.#ends = next.#ends;
    this.#own = next.#own;
    this.#ownIndex = true;
  }

  *#items(keep: (v: T) => boolean): Generator<T> {
    for (const chunk of this.#chunks) for (const v of chunk) if (keep(v)) yield v;
  }

  /**
   * Binary search for the item whose `key` is `target` (the items ascending by key): its index,
   * or -(insertion point) - 1. O(log n).
   */
  search(key: (v: T) => number, target: number): number {
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    // the first chunk whose last item's key is at or above target
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const last = chunks[mid];
      if (key(last[last.length - 1]) < target) lo = mid + 1;
      else hi = mid;
    }
    if (chunks.length === 0) return -1;
    const chunk = chunks[lo];
    const start = this.#startOf(lo);
    let a = 0;
    let b = chunk.length - 1;
    while (a <= b) {
      const mid = (a + b) >> 1;
      const k = key(chunk[mid]);
      if (k === target) return start + mid;
      if (k < target) a = mid + 1;
      else b = mid - 1;
    }
    return -(start + a) - 1;
  }

  /** Calls `fn` with each item and its index from `from` on, in order, until it returns false. */
  each(fn: (v: T, i: number) => boolean | void, from = 0): void {
    if (from >= this.length) return;
    let c = this.#chunkOf(Math.max(0, from));
    let i = this.#startOf(c);
    for (; c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c];
      for (let j = 0; j < chunk.length; j++, i++) if (i >= from && fn(chunk[j], i) === false) return;
    }
  }

  /**
   * Each index and item in order, read live as an array's iterator is (an item replaced meanwhile
   * is read as it is now): O(1) per item while its chunk stays, O(log n) when it moved.
   */
  *entries(): Generator<[number, T]> {
    for (let i = 0; i < this.length; ) {
      const c = this.#chunkOf(i);
      const chunk = this.#chunks[c];
      const start = this.#startOf(c);
      while (i < this.length && this.#chunks[c] === chunk && this.#startOf(c) === start && i - start < chunk.length) {
        yield [i, chunk[i - start]];
        i++;
      }
    }
  }

  [Symbol.iterator](): Iterator<T> {
    // not a generator: a for-of over it can then do without an object per item
    const chunks = this.#chunks;
    let c = 0;
    let j = 0;
    return {
      next: (): IteratorResult<T> => {
        for (; c < chunks.length; c++, j = 0) if (j < chunks[c].length) return { value: chunks[c][j++], done: false };
        return { value: undefined, done: true };
      },
    };
  }

  toArray(): T[] {
    const out = new Array<T>(this.length);
    let i = 0;
    for (const chunk of this.#chunks) for (const v of chunk) out[i++] = v;
    return out;
  }
}
