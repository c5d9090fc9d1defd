/**
 * @module tail-ring
 * The mail log's tail: the last `size` events, each kept as its JSON text in one byte ring
 * outside V8's heap (a Buffer), with its time and name in typed arrays beside it. Every event
 * lives through hundreds of messages' young-generation collections before the ring drops it, so
 * whatever the ring holds on the heap per event is copied into the old generation (issue 11:
 * keeping the event objects cost ~0.8 KB of promotion per accepted message, a JSON string per
 * event more); octets in a Buffer are not on the heap and are never copied by a collection.
 * Each line reads as `JSON.stringify({ time, event, ...fields })` with the time written as
 * ISO 8601 when the tail is asked for: the fields' text is made when the event is published
 * (publishers never change an event afterwards, core/events.ts), so the line is the same.
 * Standards: none (RFC 8259 JSON).
 * Security: holds what the events hold (addresses, replies; never bodies or passwords).
 * Limitations: the ring grows (doubling, from 256 KiB) when its events' text does not fit, and
 *   does not shrink again; an event JSON cannot write (a cycle, a BigInt) is kept as its time and
 *   name only.
 */

const INITIAL_BYTES = 256 * 1024;

export class TailRing {
  readonly #size: number;
  readonly #times: Float64Array;
  readonly #names: string[];
  /** 1: the text is the whole line (made at once: the fields would not follow time and event as-is) */
  readonly #whole: Uint8Array;
  /** each event's text: where it starts, counted in octets written since the ring began */
  readonly #starts: Float64Array;
  readonly #lengths: Uint32Array;
  #bytes: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  #count = 0;
  #next = 0;
  #head = 0;

  constructor(size: number) {
    this.#size = size;
    this.#times = new Float64Array(size);
    this.#names = new Array<string>(size).fill('');
    this.#whole = new Uint8Array(size);
    this.#starts = new Float64Array(size);
    this.#lengths = new Uint32Array(size);
  }

  /**
   * Keeps `fields` (an event as published) as the newest event, dropping the oldest when full;
   * `json`, when given, is `JSON.stringify(fields)` made already (an acceptor's event as it came:
   * core/events.ts relayedJson), not made again.
   */
  add(time: number, event: string, fields: object, json?: string): void {
    let text: string;
    let whole = 0;
    try {
      text = json ?? JSON.stringify(fields);
      // `{ time, event, ...fields }` puts integer-like keys first and lets the fields' own time,
      // event or toJSON win: such an event (none is published so) is written whole, as that
      if (text.charCodeAt(0) !== 0x7b || (text.charCodeAt(2) >= 0x30 && text.charCodeAt(2) <= 0x39) || Object.hasOwn(fields, 'time') || Object.hasOwn(fields, 'event') || 'toJSON' in fields) {
        text = JSON.stringify({ time: new Date(time).toISOString(), event, ...fields });
        whole = 1;
      }
    } catch {
      text = '{}';
    }
    const slot = this.#next;
    const length = Buffer.byteLength(text, 'utf8');
    let at = this.#place(length);
    if (at + length - this.#oldestKept(at) > this.#bytes.length) {
      this.#grow(length);
      at = this.#place(length);
    }
    this.#bytes.write(text, at % this.#bytes.length, length, 'utf8');
    this.#times[slot] = time;
    this.#names[slot] = event;
    this.#whole[slot] = whole;
    this.#starts[slot] = at;
    this.#lengths[slot] = length;
    this.#head = at + length;
    this.#next = (slot + 1) % this.#size;
    if (this.#count < this.#size) this.#count++;
  }

  /** The last `lines` events (at most the ring's size), oldest first, one JSON line each. */
  tail(lines: number): string[] {
    const held = this.#count;
    const want = Math.min(held, Math.max(0, lines));
    // oldest first: once the ring is full, `next` is its oldest entry
    const start = held < this.#size ? held - want : (this.#next - want + this.#size) % this.#size;
    const out: string[] = [];
    for (let k = 0; k < want; k++) out.push(this.#line((start + k) % this.#size));
    return out;
  }

  #line(slot: number): string {
    const at = this.#starts[slot] % this.#bytes.length;
    const text = this.#bytes.toString('utf8', at, at + this.#lengths[slot]);
    if (this.#whole[slot] === 1) return text;
    const head = `{"time":"${new Date(this.#times[slot]).toISOString()}","event":${JSON.stringify(this.#names[slot])}`;
    return text === '{}' ? `${head}}` : `${head},${text.slice(1)}`;
  }

  /** Where a text of `length` octets goes: after the newest, or at the ring's start if it would not fit before the end. */
  #place(length: number): number {
    const cap = this.#bytes.length;
    const off = this.#head % cap;
    return off + length > cap ? this.#head + cap - off : this.#head;
  }

  /** Where the oldest event that stays after this add starts (`at` when none stays). */
  #oldestKept(at: number): number {
    const staying = this.#count < this.#size ? this.#count : this.#size - 1;
    if (staying === 0) return at;
    return this.#starts[this.#count < this.#size ? 0 : (this.#next + 1) % this.#size];
  }

  /** A ring at least twice what the staying events and a new text of `length` octets need, the events copied to its start in order. */
  #grow(length: number): void {
    const staying = this.#count < this.#size ? this.#count : this.#size - 1;
    const first = this.#count < this.#size ? 0 : (this.#next + 1) % this.#size;
    let total = length;
    for (let k = 0; k < staying; k++) total += this.#lengths[(first + k) % this.#size];
    let cap = this.#bytes.length * 2;
    while (cap < total * 2) cap *= 2;
    const bytes = Buffer.allocUnsafeSlow(cap);
    let pos = 0;
    for (let k = 0; k < staying; k++) {
      const slot = (first + k) % this.#size;
      const from = this.#starts[slot] % this.#bytes.length;
      this.#bytes.copy(bytes, pos, from, from + this.#lengths[slot]);
      this.#starts[slot] = pos;
      pos += this.#lengths[slot];
    }
    this.#bytes = bytes;
    this.#head = pos;
  }
}
