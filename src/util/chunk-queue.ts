/**
 * @module chunk-queue
 * The octets a stream gave (a pipe's chunks) and not used yet, taken n at a time without joining
 * the chunks: a view of a chunk when the octets lie in one, else a copy of their own. The
 * acceptor's notice frames are read so (app/acceptor-notice.ts).
 * Standards: none.
 * Security: none (the caller checks a length before it takes that many: take() needs them held).
 * Limitations: take(n) with fewer than n held throws (a caller's mistake).
 */
/** The chunks a stream gave that have not been used yet, read without joining them. */
export class ChunkQueue {
  #list: Buffer[] = [];
  /** octets of #list[0] already used */
  #at = 0;
  held = 0;

  add(chunk: Buffer): void {
    this.#list.push(chunk);
    this.held += chunk.length;
  }

  /** The next `n` octets, taken: a view of the chunk when they lie in one (`view`), else a copy of their own. */
  take(n: number, view: boolean): Buffer {
    if (n > this.held) throw new RangeError(`${n} octets asked of ${this.held} held`);
    const first = this.#list[0];
    let out: Buffer;
    if (view && first.length - this.#at >= n) out = first.subarray(this.#at, this.#at + n);
    else {
      // not from the pool: a copy kept long (the message cache keeps bodies) holds only itself
      out = Buffer.allocUnsafeSlow(n);
      let filled = 0;
      let i = 0;
      let from = this.#at;
      while (filled < n) {
        filled += this.#list[i].copy(out, filled, from, Math.min(this.#list[i].length, from + n - filled));
        if (filled < n) {
          i++;
          from = 0;
        }
      }
    }
    this.#skip(n);
    return out;
  }

  #skip(n: number): void {
    this.held -= n;
    this.#at += n;
    while (this.#list.length > 0 && this.#at >= this.#list[0].length) {
      this.#at -= this.#list[0].length;
      this.#list.shift();
    }
  }
}
