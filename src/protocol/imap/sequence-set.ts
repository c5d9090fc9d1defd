/**
 * @module sequence-set
 * IMAP sequence sets ("1:3,5,7:*") as ranges, and their test against a number.
 * Standards: RFC 9051 §9 (sequence-set, seq-range: "a:b" equals "b:a"; "*" is the largest
 *   number in use, in an empty mailbox nothing), §6.4.9 (UID ranges need not exist).
 * Security: at most `maxRanges` ranges per set (a set is never expanded into a list of numbers
 *   before it is matched against the mailbox).
 * Also plain UID ranges (resolved, no "*"): merged, intersected with a set, less some UIDs,
 * formatted; QRESYNC's VANISHED sets are made of them (RFC 7162 §3.2.5.1, §3.2.6).
 * "$" (SEARCHRES, RFC 5182 §2.1) stands alone for the saved search result: it parses to
 * `savedResult`, which matches nothing until the session resolves it.
 * Limitations: none.
 */

/** `Infinity` stands for "*" until resolved. */
export interface SeqRange {
  readonly from: number;
  readonly to: number;
}
export type SequenceSet = readonly SeqRange[];

export const maxRanges = 10_000;

/** "$": the last saved SEARCH result (RFC 5182); no real range starts at 0. */
export const savedResult: SequenceSet = Object.freeze([Object.freeze({ from: 0, to: 0 })]);

export function isSavedResult(set: SequenceSet): boolean {
  return set.length === 1 && set[0].from === 0;
}

export function parseSequenceSet(text: string): SequenceSet | undefined {
  if (text === '$') return savedResult;
  const parts = text.split(',');
  if (parts.length > maxRanges) return undefined;
  const out: SeqRange[] = [];
  for (const p of parts) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(p);
    if (!m) return undefined;
    const a = m[1] === '*' ? Infinity : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? Infinity : Number(m[2]);
    if (a === 0 || b === 0 || (a !== Infinity && a > 0xffffffff) || (b !== Infinity && b > 0xffffffff)) return undefined;
    out.push({ from: Math.min(a, b), to: Math.max(a, b) });
  }
  return out;
}

/**
 * Whether `n` is in the set, with "*" meaning `max` (the largest sequence number or UID in
 * the mailbox). RFC 9051 §9: "*:4" with max 2 holds 2..4, so the range is re-ordered once "*"
 * is known.
 */
export function inSequenceSet(set: SequenceSet, n: number, max: number): boolean {
  for (const r of set) {
    const a = r.from === Infinity ? max : r.from;
    const b = r.to === Infinity ? max : r.to;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}

/** The UIDs as a compact set ("1:3,7") for COPYUID/APPENDUID responses. */
export function formatSequenceSet(nums: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    out.push(j === i ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Ranges sorted and merged where they touch or overlap. */
export function mergeRanges(rs: readonly SeqRange[]): SeqRange[] {
  const sorted = [...rs].sort((a, b) => a.from - b.from);
  const out: SeqRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) out[out.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

/** Ascending numbers as ranges. */
export function rangesOf(sorted: readonly number[]): SeqRange[] {
  const out: SeqRange[] = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last && n === last.to + 1) out[out.length - 1] = { from: last.from, to: n };
    else if (!last || n > last.to) out.push({ from: n, to: n });
  }
  return out;
}

/** The part of `rs` inside `set` ("*" = `max`). */
export function intersectRanges(rs: readonly SeqRange[], set: SequenceSet, max: number): SeqRange[] {
  const out: SeqRange[] = [];
  for (const s of set) {
    const a0 = s.from === Infinity ? max : s.from;
    const b0 = s.to === Infinity ? max : s.to;
    const [a, b] = [Math.min(a0, b0), Math.max(a0, b0)];
    for (const r of rs) {
      const from = Math.max(a, r.from);
      const to = Math.min(b, r.to);
      if (from <= to) out.push({ from, to });
    }
  }
  return mergeRanges(out);
}

/** `rs` without the numbers of `sorted` (ascending). */
export function subtractNumbers(rs: readonly SeqRange[], sorted: readonly number[]): SeqRange[] {
  const out: SeqRange[] = [];
  let i = 0;
  for (const r of mergeRanges(rs)) {
    let from = r.from;
    while (i < sorted.length && sorted[i] < from) i++;
    while (i < sorted.length && sorted[i] <= r.to) {
      if (sorted[i] > from) out.push({ from, to: sorted[i] - 1 });
      from = sorted[i] + 1;
      i++;
    }
    if (from <= r.to) out.push({ from, to: r.to });
  }
  return out;
}

/** Ranges as a sequence set ("1:3,7"). */
export function formatRanges(rs: readonly SeqRange[]): string {
  return rs.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
}
