/**
 * @module sequence-set
 * IMAP sequence sets ("1:3,5,7:*") as ranges, and their test against a number.
 * Standards: RFC 9051 §9 (sequence-set, seq-range: "a:b" equals "b:a"; "*" is the largest
 *   number in use, in an empty mailbox nothing), §6.4.9 (UID ranges need not exist).
 * Security: at most `maxRanges` ranges per set (a set is never expanded into a list of numbers
 *   before it is matched against the mailbox).
 * Limitations: "$" (SEARCHRES, RFC 5182) is not supported.
 */

/** `Infinity` stands for "*" until resolved. */
export interface SeqRange {
  readonly from: number;
  readonly to: number;
}
export type SequenceSet = readonly SeqRange[];

export const maxRanges = 10_000;

export function parseSequenceSet(text: string): SequenceSet | undefined {
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
