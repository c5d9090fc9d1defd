/**
 * @module parked-set
 * The queue scheduler's parked envelopes (issue 19): those waiting long enough that only their
 * id and time are kept (id → time), those that came due and wait to be read back (loads), and
 * those handed out for reading and not filed again yet (loading). The scheduler keeps the
 * wait heap; an entry of it counts for a parked envelope while its time matches the one here.
 * Standards: none.
 * Security: none.
 * Limitations: none.
 */
import type { EnvelopeId, MessageId, ScheduleEntry } from '../core/index.js';

export class ParkedSet {
  /** parked: id → the time it waits for */
  readonly #at = new Map<EnvelopeId, number>();
  /** came due: for the dispatcher to read back (take) */
  readonly #loads = new Set<EnvelopeId>();
  /** handed out for reading: set, drop or park ends it */
  readonly #loading = new Set<EnvelopeId>();

  /** all three kinds */
  get size(): number {
    return this.#at.size + this.#loads.size + this.#loading.size;
  }

  /** due and not filed yet (waiting to be read, or being read) */
  get due(): number {
    return this.#loads.size + this.#loading.size;
  }

  has(id: EnvelopeId): boolean {
    return this.#at.has(id) || this.#loads.has(id) || this.#loading.has(id);
  }

  /** the time a parked envelope waits for (undefined when not parked) */
  timeOf(id: EnvelopeId): number | undefined {
    return this.#at.get(id);
  }

  /** parked (again) until `at`; the caller pushes the heap entry */
  park(id: EnvelopeId, at: number): void {
    this.#loads.delete(id);
    this.#loading.delete(id);
    this.#at.set(id, at);
  }

  /** no longer parked in any way (filed, or forgotten) */
  drop(id: EnvelopeId): void {
    this.#at.delete(id);
    this.#loads.delete(id);
    this.#loading.delete(id);
  }

  /** its time came: to be read back */
  comeDue(id: EnvelopeId): void {
    this.#at.delete(id);
    this.#loads.add(id);
  }

  /** those that came due, now being read */
  take(): EnvelopeId[] {
    const out = [...this.#loads];
    this.#loads.clear();
    for (const id of out) this.#loading.add(id);
    return out;
  }

  /** those of `ids` still parked, taken for reading, with their times */
  claim(ids: readonly EnvelopeId[]): ScheduleEntry[] {
    const out: ScheduleEntry[] = [];
    for (const id of ids) {
      const at = this.#at.get(id);
      if (at === undefined) continue;
      this.#at.delete(id);
      this.#loading.add(id);
      out.push({ id, at });
    }
    return out;
  }

  /** ids parked and waiting (not due), a snapshot */
  waiting(): EnvelopeId[] {
    return [...this.#at.keys()];
  }

  /** every id, a snapshot */
  ids(): EnvelopeId[] {
    return [...this.#at.keys(), ...this.#loads, ...this.#loading];
  }

  /** every id with the time it is next looked at (0: due) */
  *entries(): Iterable<ScheduleEntry> {
    for (const [id, at] of this.#at) yield { id, at };
    for (const id of this.#loads) yield { id, at: 0 };
    for (const id of this.#loading) yield { id, at: 0 };
  }

  /** the message id of every parked envelope (with repeats) */
  *messageIds(): Iterable<MessageId> {
    for (const ids of [this.#at.keys(), this.#loads, this.#loading]) for (const id of ids) yield id.slice(0, id.lastIndexOf('-'));
  }
}
