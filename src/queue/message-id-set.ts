/**
 * @module message-id-set
 * A set of message ids with a mark per id, compact for a million (issue 19): an id of util's
 * uniqueId form (18 base32 characters) is kept as two numbers (its time and random parts) in an
 * open-addressing table of typed arrays (17 octets a slot, 23–45 an id) instead of ~100 for a
 * string in a Set; any other id in a Map beside. What the queue runner's rescan of the
 * files spool uses to tell which known messages the listing still holds (store-rescan.ts).
 * Standards: none.
 * Security: none.
 * Limitations: no removal (a set lives for one rescan).
 */
import type { MessageId } from '../core/index.js';
import { base32Value, hashOf } from './queue-id-codec.js';

export class MessageIdSet {
  #hi = new Float64Array(1024).fill(-1);
  #lo = new Float64Array(1024);
  #marked = new Uint8Array(1024);
  #count = 0;
  readonly #odd = new Map<MessageId, boolean>();

  get size(): number {
    return this.#count + this.#odd.size;
  }

  add(id: MessageId): void {
    const hi = hiOf(id);
    if (hi < 0) {
      if (!this.#odd.has(id)) this.#odd.set(id, false);
      return;
    }
    const lo = base32Value(id, 10, 18);
    if (this.#find(hi, lo) >= 0) return;
    if ((this.#count + 1) * 4 > this.#hi.length * 3) this.#grow();
    this.#put(hi, lo, 0);
    this.#count++;
  }

  has(id: MessageId): boolean {
    const hi = hiOf(id);
    return hi < 0 ? this.#odd.has(id) : this.#find(hi, base32Value(id, 10, 18)) >= 0;
  }

  /** Marks `id` when it is in the set; false when it is not. */
  mark(id: MessageId): boolean {
    const hi = hiOf(id);
    if (hi < 0) {
      if (!this.#odd.has(id)) return false;
      this.#odd.set(id, true);
      return true;
    }
    const i = this.#find(hi, base32Value(id, 10, 18));
    if (i < 0) return false;
    this.#marked[i] = 1;
    return true;
  }

  /** Whether `id` is in the set and marked. */
  marked(id: MessageId): boolean {
    const hi = hiOf(id);
    if (hi < 0) return this.#odd.get(id) === true;
    const i = this.#find(hi, base32Value(id, 10, 18));
    return i >= 0 && this.#marked[i] === 1;
  }

  /** The slot holding (hi, lo), or -1. */
  #find(hi: number, lo: number): number {
    const mask = this.#hi.length - 1;
    for (let i = hashOf(hi, lo, 0) & mask; ; i = (i + 1) & mask) {
      if (this.#hi[i] === -1) return -1;
      if (this.#hi[i] === hi && this.#lo[i] === lo) return i;
    }
  }

  #put(hi: number, lo: number, marked: number): void {
    const mask = this.#hi.length - 1;
    let i = hashOf(hi, lo, 0) & mask;
    while (this.#hi[i] !== -1) i = (i + 1) & mask;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#marked[i] = marked;
  }

  #grow(): void {
    const [hi, lo, marked] = [this.#hi, this.#lo, this.#marked];
    this.#hi = new Float64Array(hi.length * 2).fill(-1);
    this.#lo = new Float64Array(hi.length * 2);
    this.#marked = new Uint8Array(hi.length * 2);
    for (let i = 0; i < hi.length; i++) if (hi[i] !== -1) this.#put(hi[i], lo[i], marked[i]);
  }
}

/** The time part of an id of uniqueId's form (18 base32 characters); -1 for any other id. */
function hiOf(id: string): number {
  if (id.length !== 18) return -1;
  const lo = base32Value(id, 10, 18);
  return lo < 0 ? -1 : base32Value(id, 0, 10);
}
