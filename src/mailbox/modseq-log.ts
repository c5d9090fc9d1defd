/**
 * @module modseq-log
 * A folder's messages in MODSEQ order, as far back as it reaches: the UIDs whose MODSEQ is
 * above `base` are all in it, each with the MODSEQ it got, so the messages changed after a
 * MODSEQ at or above `base` are found in O(changes) (CONDSTORE/QRESYNC CHANGEDSINCE, JMAP
 * Email/changes) instead of by a walk of the folder. A change appends (a message's MODSEQ only
 * grows, and a new one is above every earlier one); an entry whose message changed again or
 * went is stale and skipped, and dropped when stale ones outnumber live ones.
 * Standards: RFC 7162 §3.1 (MODSEQs only grow; one command's changes may share a value).
 * Security: no input of its own (UIDs and MODSEQs of the folder state).
 * Limitations: in memory, per folder state (maildir-folder-state): a state read from the files
 *   (the first time, or after another process wrote them) starts with `base` at its
 *   HIGHESTMODSEQ, so a question from below it is answered by a walk of the folder, as is one
 *   that would take most of the folder from the log anyway.
 */
/** stale entries kept before a compaction, beyond one per live message */
const slack = 1024;

export class ModseqLog {
  readonly #modseqs: number[] = [];
  readonly #uids: number[] = [];

  /** every UID whose MODSEQ is above `base` is in the log */
  private constructor(readonly base: number) {}

  /** An empty log for a folder whose HIGHESTMODSEQ is `highestModseq` (nothing changed after it). */
  static after(highestModseq: number): ModseqLog {
    return new ModseqLog(highestModseq);
  }

  get length(): number {
    return this.#uids.length;
  }

  /**
   * `uid` has MODSEQ `modseq` now. Appended when it is the highest so far (every change but a
   * list read again); else put in its place.
   */
  add(uid: number, modseq: number): void {
    if (modseq <= this.base) return;
    const n = this.#modseqs.length;
    if (n === 0 || this.#modseqs[n - 1] <= modseq) {
      this.#modseqs.push(modseq);
      this.#uids.push(uid);
      return;
    }
    const i = this.#firstAbove(modseq);
    this.#modseqs.splice(i, 0, modseq);
    this.#uids.splice(i, 0, uid);
  }

  /** The position of the first entry whose MODSEQ is above `modseq`. */
  #firstAbove(modseq: number): number {
    let lo = 0;
    let hi = this.#modseqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#modseqs[mid] <= modseq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** How many entries (stale ones too) have a MODSEQ above `since`; undefined when the log does not reach back to it. */
  countAbove(since: number): number | undefined {
    return since < this.base ? undefined : this.#uids.length - this.#firstAbove(since);
  }

  /**
   * The UIDs whose MODSEQ is above `since`, ascending; `current` gives a UID's MODSEQ now
   * (undefined: gone). undefined when the log does not reach back to `since`.
   */
  since(since: number, current: (uid: number) => number | undefined): Uint32Array | undefined {
    if (since < this.base) return undefined;
    const first = this.#firstAbove(since);
    const found = new Uint32Array(this.#uids.length - first);
    let n = 0;
    for (let i = first; i < this.#uids.length; i++) {
      const uid = this.#uids[i];
      if (current(uid) === this.#modseqs[i]) found[n++] = uid;
    }
    const sorted = found.subarray(0, n).sort();
    // a UID told twice with the same MODSEQ (a list read again) is given once
    let j = 0;
    for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[j++] = sorted[i];
    return sorted.subarray(0, j);
  }

  /** Drops stale entries when they outnumber the `live` messages (amortised O(1) per change). */
  compact(live: number, current: (uid: number) => number | undefined): void {
    if (this.#uids.length <= 2 * live + slack) return;
    let j = 0;
    const seen = new Set<number>();
    for (let i = 0; i < this.#uids.length; i++) {
      const uid = this.#uids[i];
      const modseq = this.#modseqs[i];
      if (current(uid) !== modseq || seen.has(uid)) continue;
      seen.add(uid);
      this.#uids[j] = uid;
      this.#modseqs[j] = modseq;
      j++;
    }
    this.#uids.length = j;
    this.#modseqs.length = j;
  }
}
