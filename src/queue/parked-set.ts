/**
 * @module parked-set
 * The queue scheduler's parked envelopes (issue 19): those waiting long enough that only their
 * id and time are kept, those that came due and wait to be read back (loads), and those handed
 * out for reading and not filed again yet (loading); with their own min-heap by time (slot-heap.ts).
 *
 * Compact (issue 19: a million parked envelopes cost ~107 octets each as a Map of id strings to
 * times plus the wait heap's entries, and every major GC marked them): an envelope id of the form
 * util's uniqueId makes ("<10 time and 8 random characters of base32>-<n>") is kept as numbers in
 * typed arrays, not as a string (queue-id-codec.ts: the time part (50 bits) and the random part
 * (40 bits) as two doubles, n as a 32-bit integer), beside its time, its state and its place in
 * the heap; an open-addressing hash table of slot numbers finds it by id. About 45 octets each,
 * outside the JavaScript heap. An id of any other form (a test's, or a message imported from another
 * backend) is kept as a string in a Map beside (same slots, same heap). Ids are made back into
 * strings only when handed out (the base32 order of the two numbers is the ids' order).
 * Each slot also keeps a kind (the envelope's state, a small number the scheduler gives), so
 * that the count per kind is kept exact as envelopes are parked, loaded and dropped.
 * Standards: none.
 * Security: none (ids come from the store, checked there).
 * Limitations: none.
 */
import type { EnvelopeId, MessageId, ScheduleEntry } from '../core/index.js';
import { encodeEnvelopeId, encoded, hashOf, messageIdOf } from './queue-id-codec.js';
import { SlotHeap } from './slot-heap.js';

const free = 0;
/** parked, waiting for its time (in the heap unless its time is Infinity) */
const waitingState = 1;
/** came due: for the dispatcher to read back (take) */
const dueState = 2;
/** handed out for reading: set, drop or park ends it */
const loadingState = 3;

export class ParkedSet {
  // per slot
  #hi = new Float64Array(0);
  #lo = new Float64Array(0);
  #n = new Uint32Array(0);
  #at = new Float64Array(0);
  #state = new Uint8Array(0);
  /** the envelope's kind (its state, as the scheduler numbers them) */
  #kind = new Uint8Array(0);
  /** slots per kind */
  readonly #kindCounts = new Float64Array(256);
  /** slots past the highest ever used: #used; freed ones below it: #free */
  #used = 0;
  #free = new Int32Array(0);
  #freeCount = 0;
  /** open addressing (linear probing) of encoded slots: slot + 1, 0 empty */
  #table = new Int32Array(1024);
  #tableCount = 0;
  /** ids not of uniqueId's form: id → slot and back */
  readonly #oddSlot = new Map<EnvelopeId, number>();
  readonly #oddId = new Map<number, EnvelopeId>();
  /** min-heap of waiting slots by #at */
  readonly #heap = new SlotHeap();
  #waiting = 0;
  #loading = 0;
  /** due slots, in the order they came due */
  readonly #loads = new Set<number>();

  /** all three kinds */
  get size(): number {
    return this.#waiting + this.#loads.size + this.#loading;
  }

  /** due and not filed yet (waiting to be read, or being read) */
  get due(): number {
    return this.#loads.size + this.#loading;
  }

  has(id: EnvelopeId): boolean {
    return this.#find(id) >= 0;
  }

  /** the time a parked envelope waits for (undefined when not parked, or due) */
  timeOf(id: EnvelopeId): number | undefined {
    const slot = this.#find(id);
    return slot >= 0 && this.#state[slot] === waitingState ? this.#at[slot] : undefined;
  }

  /** the earliest time a waiting envelope comes due (Infinity when none) */
  nextAt(): number {
    const first = this.#heap.peek();
    return first >= 0 ? this.#at[first] : Infinity;
  }

  /** parked (again) until `at` (Infinity: until named), of `kind` (default: as it was; 0 for a new one) */
  park(id: EnvelopeId, at: number, kind?: number): void {
    let slot = this.#find(id);
    if (slot < 0) {
      slot = this.#add(id);
      this.#kind[slot] = kind ?? 0;
      this.#kindCounts[this.#kind[slot]]++;
    } else {
      this.#leave(slot);
      if (kind !== undefined) {
        this.#kindCounts[this.#kind[slot]]--;
        this.#kind[slot] = kind;
        this.#kindCounts[kind]++;
      }
    }
    this.#state[slot] = waitingState;
    this.#waiting++;
    this.#at[slot] = at;
    if (at < Infinity) this.#heap.push(slot, this.#at);
  }

  /** no longer parked in any way (filed, or forgotten) */
  drop(id: EnvelopeId): void {
    const slot = this.#find(id);
    if (slot < 0) return;
    this.#leave(slot);
    this.#kindCounts[this.#kind[slot]]--;
    this.#release(slot, id);
  }

  /** How many are parked (in any way) of `kind`. */
  countOf(kind: number): number {
    return this.#kindCounts[kind];
  }

  /**
   * Per kind, the earliest time in the ids of uniqueId's form (their first ten characters are
   * the message's creation in ms: when it arrived); Infinity for a kind with none. One pass over
   * the typed arrays: no id is made into a string.
   */
  oldestByKind(): Float64Array {
    const out = new Float64Array(256).fill(Infinity);
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#state[slot] === free) continue;
      const t = this.#hi[slot];
      const k = this.#kind[slot];
      if (t < out[k]) out[k] = t;
    }
    return out;
  }

  /** The earliest waiting envelope, if its time is `now` or before, comes due (to be read back): true when one did. */
  comeDue(now: number): boolean {
    const slot = this.#heap.peek();
    if (slot < 0 || this.#at[slot] > now) return false;
    this.#leave(slot);
    this.#state[slot] = dueState;
    this.#loads.add(slot);
    return true;
  }

  /** those that came due, now being read */
  take(): EnvelopeId[] {
    const out: EnvelopeId[] = [];
    for (const slot of this.#loads) {
      this.#state[slot] = loadingState;
      this.#loading++;
      out.push(this.#idOf(slot));
    }
    this.#loads.clear();
    return out;
  }

  /** those of `ids` still parked and waiting, taken for reading, with their times */
  claim(ids: readonly EnvelopeId[]): ScheduleEntry[] {
    const out: ScheduleEntry[] = [];
    for (const id of ids) {
      const slot = this.#find(id);
      if (slot < 0 || this.#state[slot] !== waitingState) continue;
      const at = this.#at[slot];
      this.#leave(slot);
      this.#state[slot] = loadingState;
      this.#loading++;
      out.push({ id, at });
    }
    return out;
  }

  /** ids parked and waiting (not due), a snapshot */
  waiting(): EnvelopeId[] {
    const out: EnvelopeId[] = [];
    for (let slot = 0; slot < this.#used; slot++) if (this.#state[slot] === waitingState) out.push(this.#idOf(slot));
    return out;
  }

  /** every id, a snapshot */
  ids(): EnvelopeId[] {
    const out: EnvelopeId[] = [];
    for (let slot = 0; slot < this.#used; slot++) if (this.#state[slot] !== free) out.push(this.#idOf(slot));
    return out;
  }

  /** the ids a message or envelope id names (all when undefined), a snapshot */
  matching(id: string | undefined): EnvelopeId[] {
    if (id === undefined) return this.ids();
    if (this.has(id)) return [id];
    // a message id: its envelopes
    const out: EnvelopeId[] = [];
    if (!id.includes('-') && encodeEnvelopeId(`${id}-1`)) {
      const { hi, lo } = encoded;
      for (let slot = 0; slot < this.#used; slot++) {
        if (this.#state[slot] !== free && this.#hi[slot] === hi && this.#lo[slot] === lo) out.push(this.#idOf(slot));
      }
    }
    for (const odd of this.#oddSlot.keys()) if (odd.slice(0, odd.lastIndexOf('-')) === id) out.push(odd);
    return out;
  }

  /** every id with the time it is next looked at (0: due) and its kind */
  *entries(): Iterable<ScheduleEntry & { kind: number }> {
    for (let slot = 0; slot < this.#used; slot++) {
      const state = this.#state[slot];
      if (state !== free) yield { id: this.#idOf(slot), at: state === waitingState ? this.#at[slot] : 0, kind: this.#kind[slot] };
    }
  }

  /** every parked envelope's id with its message id, one at a time (no snapshot: change nothing meanwhile) */
  *withMessageIds(): Iterable<[EnvelopeId, MessageId]> {
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#state[slot] === free) continue;
      const odd = this.#oddId.get(slot);
      if (odd !== undefined) yield [odd, odd.slice(0, odd.lastIndexOf('-'))];
      else {
        const messageId = messageIdOf(this.#hi[slot], this.#lo[slot]);
        yield [`${messageId}-${this.#n[slot]}`, messageId];
      }
    }
  }

  /** the message id of every parked envelope (with repeats) */
  *messageIds(): Iterable<MessageId> {
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#state[slot] === free) continue;
      const odd = this.#oddId.get(slot);
      yield odd === undefined ? messageIdOf(this.#hi[slot], this.#lo[slot]) : odd.slice(0, odd.lastIndexOf('-'));
    }
  }

  #idOf(slot: number): EnvelopeId {
    return this.#oddId.get(slot) ?? `${messageIdOf(this.#hi[slot], this.#lo[slot])}-${this.#n[slot]}`;
  }

  /** The slot of `id`, -1 when it has none. */
  #find(id: EnvelopeId): number {
    if (!encodeEnvelopeId(id)) return this.#oddSlot.get(id) ?? -1;
    const { hi, lo, n } = encoded;
    const mask = this.#table.length - 1;
    for (let i = hashOf(hi, lo, n) & mask; ; i = (i + 1) & mask) {
      const e = this.#table[i];
      if (e === 0) return -1;
      const slot = e - 1;
      if (this.#lo[slot] === lo && this.#hi[slot] === hi && this.#n[slot] === n) return slot;
    }
  }

  /** A new slot for `id` (not known), state free. */
  #add(id: EnvelopeId): number {
    const slot = this.#freeCount > 0 ? this.#free[--this.#freeCount] : this.#used++;
    if (slot >= this.#state.length) this.#grow(Math.max(1024, this.#state.length * 2));
    if (!encodeEnvelopeId(id)) {
      this.#hi[slot] = NaN;
      this.#lo[slot] = NaN;
      this.#n[slot] = 0;
      this.#oddSlot.set(id, slot);
      this.#oddId.set(slot, id);
      return slot;
    }
    this.#hi[slot] = encoded.hi;
    this.#lo[slot] = encoded.lo;
    this.#n[slot] = encoded.n;
    if ((this.#tableCount + 1) * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    this.#insert(slot);
    this.#tableCount++;
    return slot;
  }

  /** Ends the slot's present state (out of the heap, the loads, the counts); it stays allocated. */
  #leave(slot: number): void {
    const state = this.#state[slot];
    if (state === waitingState) {
      this.#waiting--;
      this.#heap.remove(slot, this.#at);
    } else if (state === dueState) this.#loads.delete(slot);
    else if (state === loadingState) this.#loading--;
    this.#state[slot] = free;
  }

  #release(slot: number, id: EnvelopeId): void {
    if (this.#oddId.delete(slot)) this.#oddSlot.delete(id);
    else this.#unindex(slot);
    this.#free[this.#freeCount++] = slot;
  }

  #grow(capacity: number): void {
    const more = <T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.#hi = more(this.#hi, (n) => new Float64Array(n));
    this.#lo = more(this.#lo, (n) => new Float64Array(n));
    this.#n = more(this.#n, (n) => new Uint32Array(n));
    this.#at = more(this.#at, (n) => new Float64Array(n));
    this.#state = more(this.#state, (n) => new Uint8Array(n));
    this.#kind = more(this.#kind, (n) => new Uint8Array(n));
    this.#free = more(this.#free, (n) => new Int32Array(n));
    this.#heap.grow(capacity);
  }

  #home(slot: number): number {
    return hashOf(this.#hi[slot], this.#lo[slot], this.#n[slot]) & (this.#table.length - 1);
  }

  #insert(slot: number): void {
    const mask = this.#table.length - 1;
    let i = this.#home(slot);
    while (this.#table[i] !== 0) i = (i + 1) & mask;
    this.#table[i] = slot + 1;
  }

  #rehash(capacity: number): void {
    const old = this.#table;
    this.#table = new Int32Array(capacity);
    for (const e of old) if (e !== 0) this.#insert(e - 1);
  }

  /** Removes an encoded slot from the hash table (backward shift: no tombstones). */
  #unindex(slot: number): void {
    const t = this.#table;
    const mask = t.length - 1;
    let i = this.#home(slot);
    while (t[i] !== slot + 1) i = (i + 1) & mask;
    t[i] = 0;
    for (let j = (i + 1) & mask; t[j] !== 0; j = (j + 1) & mask) {
      const k = this.#home(t[j] - 1);
      // the entry at j stays unless its home lies cyclically outside (i, j]
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      t[i] = t[j];
      t[j] = 0;
      i = j;
    }
    this.#tableCount--;
  }
}
